"""The Idempotency-Key repository on PostgreSQL: a claim is fenced by the time it was made.

A request that ran past ``IDEMPOTENCY_KEY_ABANDONED_SECONDS`` (a paused process, a stalled
database) and whose key a retry took over must not complete the key with a second order, nor
delete the retry's claim when it fails.
"""
import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from nameko_services.orders.handlers import now
from nameko_services.orders.repository import SqlIdempotencyKeys


def key_row(engine, user_id):
    with engine.connect() as conn:
        return conn.execute(text("SELECT state, order_id::text, created_at FROM idempotency_keys "
                                 "WHERE user_id = :user"), {"user": user_id}).all()


def test_a_claim_a_retry_took_over_can_neither_complete_nor_release_the_key(orders_db):
    user, first_order, retry_order = (str(uuid.uuid4()) for _ in range(3))
    first = now() - timedelta(minutes=5)
    with Session(orders_db) as session:
        keys = SqlIdempotencyKeys(session)
        assert keys.claim(user, "k-1", "hash", first) is None
        session.commit()
        retry = now()
        assert keys.take_over(keys.claim(user, "k-1", "hash", retry), retry)
        session.commit()

        assert keys.complete(user, "k-1", first, first_order) is False
        keys.release(user, "k-1", first)
        session.commit()
        assert key_row(orders_db, user) == [("in_progress", None, retry)]

        assert keys.complete(user, "k-1", retry, retry_order) is True
        session.commit()
    assert key_row(orders_db, user) == [("done", retry_order, retry)]


def test_a_claim_still_its_own_is_released_when_its_request_fails(orders_db):
    user, claimed = str(uuid.uuid4()), now()
    with Session(orders_db) as session:
        keys = SqlIdempotencyKeys(session)
        assert keys.claim(user, "k-2", "hash", claimed) is None
        keys.release(user, "k-2", claimed)
        session.commit()
    assert key_row(orders_db, user) == []
