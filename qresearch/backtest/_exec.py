"""The execution core: the order math shared by every engine, as plain-Python kernels.

``from_weights`` (:mod:`qresearch.backtest._nb`), ``from_signals``
(:mod:`qresearch.backtest._nb_signals`) and the simulator's matching kernel
(:mod:`qresearch.sim._nb`) all price, size and pay for a fill through these helpers,
so a fee, slippage, impact or participation rule is written once. They are compiled
with numba by the kernels that call them (``_nb._compiled``) and run as they are in
the plain-Python twins.

The rules are those of :class:`~qresearch.backtest.costs.Costs`:

- slippage and square-root impact add up to one fraction of the price against the
  order: ``slippage + impact * sigma * sqrt(|qty| / adv)``, capped at 99%;
- a participation cap limits a fill to ``participation * bar volume`` (no volume: no
  fill);
- fees are ``traded_value * fees + fixed_fees`` per fill;
- a buy that needs more cash than ``cash_limit`` is reduced to spend exactly the
  limit, fees included (or refused by the caller that asks for all-or-nothing);
- sizes are rounded down to ``granularity`` (NaN: fractional) and fills smaller
  than ``min_size`` units are refused; a size that is not positive is no fill (callers
  skip float noise by value, relative to the portfolio, so that results do not depend
  on the scale of cash or prices).
"""

from __future__ import annotations

import math

REL_TOL = 1e-9
ABS_TOL = 1e-12


def is_close_py(a: float, b: float) -> bool:
    # vectorbt's tolerance: relative 1e-9, absolute 1e-12; never close to NaN or inf.
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


def add_py(a: float, b: float) -> float:
    # a + b, snapped to exactly 0.0 when the two nearly cancel (relative to their size;
    # a tiny sum of same-signed numbers is kept, so results do not depend on scale).
    if (a > 0) != (b > 0) and a != 0 and b != 0 and is_close_py(abs(a), abs(b)):
        return 0.0
    return a + b


def slip_fraction_py(
    size: float, slippage: float, impact: float, sigma: float, adv: float
) -> float:
    # Fraction of the price a fill of `size` units loses: slippage plus square-root
    # impact (when impact > 0 and sigma/adv are known), capped at 99%.
    slip = slippage
    if impact > 0.0 and adv > 0.0 and not math.isnan(sigma):
        slip += impact * sigma * math.sqrt(abs(size) / adv)
        slip = min(slip, 0.99)
    return slip


def cap_participation_py(size: float, participation: float, volume: float) -> float:
    # `size` limited to participation * volume in absolute value (NaN participation:
    # no cap); 0.0 when the bar has no volume.
    if math.isnan(participation):
        return size
    cap = participation * volume
    if not cap > 0.0:
        return 0.0
    if abs(size) > cap:
        return cap if size > 0.0 else -cap
    return size


def buy_py(
    size: float,
    price: float,
    slip: float,
    cash_limit: float,
    fees: float,
    fixed_fees: float,
    granularity: float,
    min_size: float,
) -> tuple[float, float, float, float]:
    # A buy of `size` units (inf: all the cash) at `price`: returns (filled units,
    # fill price, fee, total cash spent); filled units 0.0 when nothing can be bought.
    # More than `cash_limit` is never spent: the size is reduced to fit.
    adj_price = price * (1.0 + slip)
    if cash_limit <= 0.0:
        return 0.0, adj_price, 0.0, 0.0
    adj_size = size
    if not math.isnan(granularity):
        adj_size = (adj_size // granularity) * granularity
    if adj_size <= 0.0:
        return 0.0, adj_price, 0.0, 0.0
    fits = False
    fee = 0.0
    total = 0.0
    if not math.isinf(adj_size):
        req = adj_size * adj_price
        fee = req * fees + fixed_fees
        total = req + fee
        fits = is_close_py(total, cash_limit) or total < cash_limit
    if fits:
        final = adj_size
    else:
        max_req = add_py(cash_limit, -fixed_fees) / (1.0 + fees)
        if max_req <= 0.0:
            return 0.0, adj_price, 0.0, 0.0
        final = max_req / adj_price
        if not math.isnan(granularity):
            final = (final // granularity) * granularity
            fee = final * adj_price * fees + fixed_fees
            total = final * adj_price + fee
        else:
            fee = cash_limit - max_req
            total = cash_limit
    if not is_close_py(final, min_size) and final < min_size:
        return 0.0, adj_price, 0.0, 0.0
    return final, adj_price, fee, total


def sell_py(
    size: float,
    price: float,
    slip: float,
    fees: float,
    fixed_fees: float,
    granularity: float,
    min_size: float,
) -> tuple[float, float, float, float]:
    # A sell of `size` units (> 0) at `price`: returns (filled units, fill price, fee,
    # net cash received); filled units 0.0 when refused (too small, or fees above
    # the proceeds).
    adj_price = price * (1.0 - slip)
    final = size
    if not math.isnan(granularity):
        final = (final // granularity) * granularity
    if final <= 0.0:
        return 0.0, adj_price, 0.0, 0.0
    if not is_close_py(final, min_size) and final < min_size:
        return 0.0, adj_price, 0.0, 0.0
    acq = final * adj_price
    fee = acq * fees + fixed_fees
    net = add_py(acq, -fee)
    if net < 0.0:
        return 0.0, adj_price, 0.0, 0.0
    return final, adj_price, fee, net
