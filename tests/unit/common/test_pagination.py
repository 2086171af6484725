"""Every list of the platform has one shape, built in one place."""
from nameko_services.common.pagination import page_document


def test_a_page_holds_its_items_the_count_of_the_whole_list_and_where_it_stands():
    assert page_document(iter([{"id": 1}]), 41, 3, 20) == {
        "items": [{"id": 1}], "total": 41, "page": 3, "per_page": 20}
