"""``python -m tests.helpers.kill_run POINT SIGNAL [lightcnn overrides]``: the ``lightcnn``
command with a callback that sends SIGNAL (KILL, TERM, INT) to its own process at POINT:

* ``batch:E:B`` — after training batch B of epoch E (mid-epoch);
* ``epoch:E`` — at the start of epoch E (between epochs: epoch E-1 is checkpointed);
* ``test`` — when the final test starts.
"""

from __future__ import annotations

import os
import signal
import sys

import pytorch_lightning as pl


class Kill(pl.Callback):
    def __init__(self, point: str, signum: int) -> None:
        self.point, self.signum = point.split(":"), signum

    def fire(self) -> None:
        os.kill(os.getpid(), self.signum)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.point[0] == "batch" and [trainer.current_epoch, batch_idx] == [int(v) for v in self.point[1:]]:
            self.fire()

    def on_train_epoch_start(self, trainer, module) -> None:
        if self.point[0] == "epoch" and trainer.current_epoch == int(self.point[1]):
            self.fire()

    def on_test_start(self, trainer, module) -> None:
        if self.point[0] == "test":
            self.fire()


def main() -> None:
    point, name, *overrides = sys.argv[1:]
    import lightcnn.tasks.training as train

    make_trainer = train.make_trainer

    def with_kill(*args, **kwargs):
        trainer, throughput, checkpoint = make_trainer(*args, **kwargs)
        trainer.callbacks.append(Kill(point, getattr(signal, f"SIG{name}")))
        return trainer, throughput, checkpoint

    train.make_trainer = with_kill
    from lightcnn.cli import main as lightcnn

    sys.argv = ["lightcnn", *overrides]
    lightcnn()


if __name__ == "__main__":
    main()
