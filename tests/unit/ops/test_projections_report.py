"""Comparing a projection with its rebuild, and what `shopctl rebuild-projections` says (no database)."""
import pytest

from nameko_services.cli import main
from nameko_services.ops import projections
from nameko_services.ops.projections import Difference, Report, differences, projection_of

A, B, C = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", \
    "00000000-0000-4000-8000-00000000000c"


def test_equal_tables_have_no_differences_whatever_the_row_order():
    rows = [{"id": A, "status": "pending"}, {"id": B, "status": "confirmed"}]
    assert differences(rows, list(reversed(rows))) == []


def test_changed_missing_and_extra_rows_are_each_reported_once_by_id():
    stored = [{"id": A, "status": "delivered", "total": 0}, {"id": C, "status": "pending", "total": 5}]
    rebuilt = [{"id": A, "status": "pending", "total": 10}, {"id": B, "status": "pending", "total": 1}]
    found = differences(stored, rebuilt)
    assert [d.row_id for d in found] == [A, B, C]
    assert found[0].columns == ["status", "total"]
    assert found[0].describe() == f"{A}: status 'delivered' -> 'pending', total 0 -> 10"
    assert found[1].describe() == f"{B}: missing (its events make a row)"
    assert found[2].describe() == f"{C}: has no events (the row would be deleted)"


def test_long_values_are_shortened_in_descriptions():
    line = Difference(A, {"items": "x" * 500}, {"items": []}).describe(limit=20)
    assert len(line) < 80 and "..." in line


def test_the_summary_says_whether_anything_changed():
    fixed = Report("orders", 3, 11, 3, applied=True, differences=[Difference(A, None, {"id": A})])
    assert fixed.summary() == ("orders: rebuilt: 3 stream(s), 11 event(s), 3 row(s) written; "
                               "1 row(s) differed and were fixed")
    checked = Report("payments", 2, 5, 2, applied=False)
    assert checked.summary() == ("payments: checked (nothing changed): 2 stream(s), 5 event(s), "
                                 "2 row(s) written; 0 row(s) differed")


def test_each_service_has_its_projection_and_others_are_refused():
    orders = projection_of("orders")
    assert (orders.table.name, orders.events.name) == ("orders", "order_events")
    assert projection_of("payments").database == "payments"
    with pytest.raises(ValueError, match="catalog"):
        projection_of("catalog")


@pytest.fixture
def reports(monkeypatch):
    """Replace the database work with canned reports; record what was asked."""
    asked = []

    def fake(services, *, apply):
        asked.append((list(services), apply))
        diff = [Difference(A, {"id": A, "status": "delivered"}, {"id": A, "status": "pending"})]
        return [Report(s, 1, 2, 1, apply, diff if s == "orders" else []) for s in services]

    monkeypatch.setattr(projections, "rebuild_projections", fake)
    return asked


def test_check_exits_1_when_rows_differ_and_changes_nothing(reports, capsys):
    assert main(["rebuild-projections", "--check"]) == 1
    assert reports == [(["orders", "payments"], False)]
    out = capsys.readouterr().out
    assert "orders: checked (nothing changed)" in out and f"{A}: status 'delivered' -> 'pending'" in out


def test_a_rebuild_exits_0_after_fixing_differences(reports, capsys):
    assert main(["rebuild-projections", "--service", "orders"]) == 0
    assert reports == [(["orders"], True)]
    assert "1 row(s) differed and were fixed" in capsys.readouterr().out


def test_a_check_of_a_consistent_projection_exits_0(reports):
    assert main(["rebuild-projections", "--service", "payments", "--check"]) == 0


def test_an_unknown_service_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["rebuild-projections", "--service", "catalog"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_an_unreachable_database_is_a_message_without_its_password(monkeypatch, capsys):
    monkeypatch.setenv("SHOP_ORDERS_DB_URL", "postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/shop_orders")
    assert main(["rebuild-projections", "--service", "orders", "--check"]) == 2
    err = capsys.readouterr().err
    assert "cannot use the orders database at postgresql+psycopg2://postgres:***@127.0.0.1:1/" in err
    assert "s3cret" not in err
