"""Distributed tuning: the chief serves the oracle over gRPC, workers ask it for trials.

Keras Tuner reads its role from KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP /
KERASTUNER_ORACLE_PORT; `configure_environment` sets them from `tuning.role`. All processes
must see the same tuning.directory (one machine, or a shared file system).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent import futures

from mnist_exp.errors import MnistExpError
from mnist_exp.tuning.settings import TuningSettings

log = logging.getLogger("mnist_exp.tune")

ENVIRONMENT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def configure_environment(tuning: TuningSettings) -> None:
    """Sets (or, standalone, clears) Keras Tuner's distribution variables for this process."""
    for name in ENVIRONMENT:
        os.environ.pop(name, None)
    if tuning.role == "standalone":
        return
    os.environ["KERASTUNER_TUNER_ID"] = tuning.tuner_id
    os.environ["KERASTUNER_ORACLE_IP"] = tuning.oracle_host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(tuning.oracle_port)


def serve_oracle(oracle, address: str, on_progress: Callable[[], None]) -> None:
    """Serves `oracle` at `address` until the search is over and every worker has left;
    calls `on_progress` whenever a trial has ended. (Keras Tuner's own server polls every
    20 s once the search is over; this one every half second.)

    Raises:
        MnistExpError: when the address cannot be bound.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise MnistExpError(
            f"Cannot serve the oracle on {address} (in use?); choose another "
            "tuning.oracle_address, the same for the chief and its workers."
        )
    server.start()
    log.info("Chief: oracle served on %s; waiting for workers.", address)
    ended = len(oracle.end_order)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
            time.sleep(0.5)
            if len(oracle.end_order) != ended:
                ended = len(oracle.end_order)
                on_progress()
    finally:
        server.stop(grace=2)
