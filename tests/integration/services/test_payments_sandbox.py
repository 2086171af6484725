"""The sandbox processor on its PostgreSQL ledger: what it remembers, and that it never counts twice."""
import eventlet
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from nameko_services.common.db import patch_psycopg_for_eventlet
from nameko_services.payments.gateways import GatewayError, SandboxGateway, TransientGatewayError
from nameko_services.payments.gateways.sandbox_ledger import SqlSandboxLedger, sandbox_payments


@pytest.fixture
def new_sandbox(payments_db):
    """Make a sandbox on the test's payments database: each call is a freshly started process."""
    patch_psycopg_for_eventlet()  # as the service does: concurrent calls really overlap
    return lambda: SandboxGateway(SqlSandboxLedger(payments_db))


@pytest.fixture
def sandbox(new_sandbox):
    return new_sandbox()


def recorded(engine, reference):
    query = select(sandbox_payments).where(sandbox_payments.c.id == reference)
    with engine.connect() as conn:
        return conn.execute(query).mappings().one()


def count_payments(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM sandbox_payments")).scalar()


def captured(sandbox, amount=1000):
    reference = sandbox.authorise(amount, "EUR", "tok_visa", "auth").reference
    sandbox.capture(reference, amount, "capture")
    return reference


def test_the_same_authorisation_key_answers_the_same_payment_and_charges_once(sandbox, payments_db):
    first = sandbox.authorise(1000, "EUR", "tok_visa", "auth")
    assert sandbox.authorise(1000, "EUR", "tok_visa", "auth") == first
    assert sandbox.charges == 1 and count_payments(payments_db) == 1
    row = recorded(payments_db, first.reference)
    assert (row["amount"], row["currency"], row["status"], row["captured_amount"]) == \
        (1000, "EUR", "requires_capture", 0)


def test_concurrent_calls_with_one_key_make_one_payment(sandbox, payments_db):
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: sandbox.authorise(1000, "EUR", "tok_visa", "auth"), range(8)))
    assert len(set(answers)) == 1 and count_payments(payments_db) == 1


def test_a_repeated_capture_key_answers_again_without_capturing_twice(sandbox, payments_db):
    reference = sandbox.authorise(1000, "EUR", "tok_visa", "auth").reference
    sandbox.capture(reference, 600, "capture")
    sandbox.capture(reference, 600, "capture")  # a new key would be refused: already captured
    row = recorded(payments_db, reference)
    assert (row["status"], row["captured_amount"]) == ("succeeded", 600)


def test_a_repeated_refund_key_returns_the_same_refund_and_refunds_once(sandbox, payments_db):
    reference = captured(sandbox)
    first = sandbox.refund(reference, 400, "refund")
    assert sandbox.refund(reference, 400, "refund") == first
    assert recorded(payments_db, reference)["refunded_amount"] == 400


def test_a_refused_call_is_refused_again_with_its_key_even_once_it_would_pass(sandbox):
    reference = sandbox.authorise(1000, "EUR", "tok_visa", "auth").reference
    with pytest.raises(GatewayError) as early:
        sandbox.refund(reference, 400, "refund")  # not captured yet
    sandbox.capture(reference, 1000, "capture")
    with pytest.raises(GatewayError) as again:
        sandbox.refund(reference, 400, "refund")
    assert again.value.code == early.value.code == "charge_not_captured"


def test_a_refund_over_the_captured_amount_is_refused(sandbox, payments_db):
    reference = sandbox.authorise(1000, "EUR", "tok_visa", "auth").reference
    sandbox.capture(reference, 600, "capture")
    sandbox.refund(reference, 500, "refund-1")
    with pytest.raises(GatewayError) as refused:
        sandbox.refund(reference, 101, "refund-2")
    assert refused.value.code == "amount_too_large"
    assert recorded(payments_db, reference)["refunded_amount"] == 500


def test_capturing_an_unknown_payment_is_resource_missing(sandbox):
    with pytest.raises(GatewayError) as refused:
        sandbox.capture("sbx_pi_unknown", 1000, "capture")
    assert refused.value.code == "resource_missing"


def test_a_fresh_sandbox_on_the_same_database_remembers_payments_and_answers(new_sandbox):
    before = new_sandbox()
    authorised = before.authorise(1000, "EUR", "tok_visa", "auth")
    before.capture(authorised.reference, 1000, "capture")
    after = new_sandbox()  # the payments service restarted
    assert after.authorise(1000, "EUR", "tok_visa", "auth") == authorised and after.charges == 0
    assert after.refund(authorised.reference, 1000, "refund").startswith("sbx_re_")


def test_tok_processing_error_once_fails_only_the_first_call_of_a_key_across_restarts(new_sandbox):
    with pytest.raises(TransientGatewayError):
        new_sandbox().authorise(1000, "EUR", "tok_processingErrorOnce", "auth")
    retried = new_sandbox().authorise(1000, "EUR", "tok_processingErrorOnce", "auth")
    assert retried.reference.startswith("sbx_pi_")


def test_the_sandbox_commits_its_records_whatever_the_callers_transaction_does(sandbox, payments_db):
    with Session(payments_db) as session:
        session.execute(text("SELECT 1"))  # the caller's transaction is open
        reference = sandbox.authorise(1000, "EUR", "tok_visa", "auth").reference
        session.rollback()
    assert recorded(payments_db, reference)["status"] == "requires_capture"
