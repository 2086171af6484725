"""The limits every service and the gateway agree on, defined once (no nameko, no I/O).

A value one service produces must be one the next service accepts, so no event of the
saga is ever dead-lettered for a rule two services wrote differently:
tests/unit/common/test_saga_limits.py walks each of these through every hop.
"""
from __future__ import annotations

MAX_ORDER_LINES = 50  # different products in one order
MAX_LINE_QUANTITY = 100  # units of one product in one order
MAX_PRICE = 10**12  # a unit price in minor units: far above any real price, far below BIGINT
MAX_STOCK = 10**9  # units on hand: fits the INTEGER stock columns with room to spare
# The largest amount one payment may take, in minor units. An order whose total is above it
# is refused when it is placed or changed, never sent to payments. Zero needs no payment.
MAX_PAYMENT_AMOUNT = 10**12
MAX_PAYMENT_TOKEN_LENGTH = 255
MAX_ORDER_NOTE_LENGTH = 500  # characters of a customer's note on an order
MAX_PER_PAGE = 100  # items of one page of any list
MAX_PAGE = 10**9  # the highest page number: keeps (page - 1) * per_page far inside SQL's bigint OFFSET
