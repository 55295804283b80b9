"""Run records (schema, atomic write, lookup) and the tables rendered from them."""
