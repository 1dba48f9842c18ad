import threading

import pytest
from django.db import connection

from erp_integrations import locks


@pytest.mark.django_db(transaction=True)
def test_a_claim_is_held_until_released_and_refused_to_others_meanwhile():
    results = []

    def other_session():
        with locks.try_claim(locks.SYNC, 42) as taken:
            results.append(taken)
        connection.close()

    with locks.try_claim(locks.SYNC, 42) as taken:
        assert taken
        worker = threading.Thread(target=other_session)
        worker.start()
        worker.join()
    assert results == [False]

    worker = threading.Thread(target=other_session)
    worker.start()
    worker.join()
    assert results == [False, True]
