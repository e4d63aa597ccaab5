"""placeholder, replaced below"""


def connect_worker_signals() -> None:
    pass
