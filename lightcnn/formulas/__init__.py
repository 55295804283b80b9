"""The papers' cost formulas as pure functions (FLOPs = multiply-accumulates, params = weights).

Each is held against fvcore's counts or a hand count in the tests.
"""
