"""The live risk guard: limits checked before every order, and the research RiskLimits.

:class:`OrderLimits` bounds each order before it leaves: its notional, the position it
would leave, the book's gross leverage, and the loss since the start of the day.
:class:`~qresearch.portfolio.risk.RiskLimits` (the object the backtest and the
simulator enforce) is checked at every bar's close exactly as the simulator does: a
breach cancels working orders, liquidates on the next bar and halts new orders for
``cooldown_bars`` bars. Every blocked order and every halt is recorded with its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from qresearch.config import Config
from qresearch.exceptions import ConfigError
from qresearch.live.broker import LiveOrder
from qresearch.portfolio.risk import RiskLimits

__all__ = ["OrderLimits", "RiskGuard"]


@dataclass(frozen=True, kw_only=True)
class OrderLimits(Config):
    """Limits every order must pass before it is sent (None: no limit).

    Parameters
    ----------
    max_order_notional : float, optional
        Largest value of one order (quantity x last price), in account currency.
    max_position_notional : float, optional
        Largest absolute value of the position an order leaves in one symbol (orders
        that reduce a position always pass).
    max_gross_leverage : float, optional
        Largest sum of absolute position values over equity after the order (orders
        that reduce exposure always pass).
    daily_loss_limit : float, optional
        Fraction of the day's starting equity (the last close of the previous day):
        once equity is this far below it, only orders that reduce a position pass,
        until the next day.

    Examples
    --------
    >>> OrderLimits(max_order_notional=50_000, max_gross_leverage=1.0).max_gross_leverage
    1.0
    """

    kind: ClassVar[str] = "order_limits"

    max_order_notional: float | None = None
    max_position_notional: float | None = None
    max_gross_leverage: float | None = None
    daily_loss_limit: float | None = None

    def validate(self) -> None:
        """Check that every limit is a positive finite number (a fraction for the loss)."""
        for name in ("max_order_notional", "max_position_notional", "max_gross_leverage"):
            v = getattr(self, name)
            if v is not None and not (
                isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf
            ):
                raise ConfigError(f"OrderLimits.{name} must be a number > 0 or None; got {v!r}.")
        v = self.daily_loss_limit
        if v is not None and not (isinstance(v, int | float) and 0 < v < 1):
            raise ConfigError(f"OrderLimits.daily_loss_limit must be in (0, 1) or None; got {v!r}.")


class RiskGuard:
    """The state of the live risk checks of one session.

    Parameters
    ----------
    limits : OrderLimits, optional
        Per-order limits.
    risk : RiskLimits, optional
        Drawdown, bar-loss and losing-streak halts, as the simulator applies them.
    init_equity : float
        Equity at the start (the first peak and day start).
    """

    def __init__(
        self,
        limits: OrderLimits | None = None,
        risk: RiskLimits | None = None,
        init_equity: float = 0.0,
    ) -> None:
        self.limits = limits or OrderLimits()
        self.risk = risk
        self.peak = init_equity
        self.prev_equity = init_equity
        self.streak = 0
        self.halted_to = -2  # bars <= this are halted (-1: before the first bar)
        self.killed = ""
        self.reason = ""
        self.day: pd.Timestamp | None = None
        self.day_start = init_equity
        self.last_equity = init_equity

    # ---- state (persisted by the runner in its store)
    def to_dict(self) -> dict[str, Any]:
        """Return the state, JSON-ready (the runner stores it after every bar)."""
        return {
            "peak": self.peak,
            "prev_equity": self.prev_equity,
            "streak": self.streak,
            "halted_to": self.halted_to,
            "killed": self.killed,
            "reason": self.reason,
            "day": None if self.day is None else self.day.isoformat(),
            "day_start": self.day_start,
            "last_equity": self.last_equity,
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        """Load a state written by :meth:`to_dict`."""
        if not state:
            return
        for key in ("peak", "prev_equity", "day_start", "last_equity"):
            setattr(self, key, float(state[key]))
        self.streak = int(state["streak"])
        self.halted_to = int(state["halted_to"])
        self.killed = str(state.get("killed", ""))
        self.reason = str(state.get("reason", ""))
        self.day = None if state.get("day") is None else pd.Timestamp(state["day"])

    @property
    def state(self) -> str:
        """The guard state: "killed", "halted" or "ok"."""
        return "killed" if self.killed else "halted" if self.reason else "ok"

    def halted(self, i: int) -> bool:
        """Return True while RiskLimits halt new orders at bar ``i``."""
        return i <= self.halted_to

    def limits_dict(self) -> dict[str, Any]:
        """Every limit in force (for the status page)."""
        out = {k: v for k, v in self.limits.to_dict().items() if v is not None}
        if self.risk is not None:
            out.update({k: v for k, v in self.risk.to_dict().items() if v is not None})
        return out

    # ---- checks
    def new_bar(self, timestamp: pd.Timestamp) -> None:
        """Start a bar: a new calendar day resets the daily loss reference."""
        day = pd.Timestamp(timestamp).normalize()
        if self.day is None or day > self.day:
            self.day = day
            self.day_start = self.last_equity

    def check_order(
        self,
        order: LiveOrder,
        i: int,
        price: float,
        position: float,
        gross: float,
        equity: float,
        *,
        risk_exit: bool = False,
    ) -> str:
        """Return why ``order`` is blocked ("" when it may go).

        ``price`` is the last price of the symbol, ``position`` its signed quantity,
        ``gross`` the sum of absolute position values and ``equity`` the account value.
        """
        if self.killed:
            return f"kill switch ({self.killed})"
        if risk_exit:
            return ""
        if self.halted(i):
            return f"risk halt ({self.reason or 'RiskLimits'}) until bar {self.halted_to}"
        lim = self.limits
        if not (price > 0 and math.isfinite(price)):
            return f"no price for {order.symbol!r} to value the order"
        signed = order.signed_qty
        new_pos = position + signed
        reduces = abs(new_pos) < abs(position) and position * new_pos >= 0
        notional = order.qty * price
        if lim.max_order_notional is not None and notional > lim.max_order_notional:
            return (
                f"max_order_notional: order value {notional:,.2f} > {lim.max_order_notional:,.2f}"
            )
        if reduces:
            return ""
        if lim.daily_loss_limit is not None and self.day_start > 0:
            floor = self.day_start * (1.0 - lim.daily_loss_limit)
            if self.last_equity <= floor:
                return (
                    f"daily_loss_limit: equity {self.last_equity:,.2f} <= {floor:,.2f} "
                    f"({lim.daily_loss_limit:.1%} below the day's start {self.day_start:,.2f})"
                )
        if lim.max_position_notional is not None:
            value = abs(new_pos) * price
            if value > lim.max_position_notional:
                return (
                    f"max_position_notional: {order.symbol} position value {value:,.2f} > "
                    f"{lim.max_position_notional:,.2f}"
                )
        if lim.max_gross_leverage is not None:
            after = gross - abs(position) * price + abs(new_pos) * price
            lev = after / equity if equity > 0 else math.inf
            if lev > lim.max_gross_leverage:
                return f"max_gross_leverage: {lev:.2f} > {lim.max_gross_leverage:.2f}"
        return ""

    def on_close(self, i: int, equity: float, n_bars_hint: int = 10**12) -> str:
        """Check RiskLimits at bar ``i``'s close; return the breach ("" if none).

        The simulator's rule: equity at or below the peak times (1 - max_drawdown), a
        one-bar loss at least bar_loss_limit, or max_losing_bars losing bars in a row
        halts orders through bar ``i + cooldown_bars`` (for good without a cooldown).
        """
        self.last_equity = equity
        prev = self.prev_equity
        self.prev_equity = equity
        if self.risk is None or i <= self.halted_to:
            return ""
        max_dd, bar_loss, losing, cooldown = self.risk.kernel_args()
        self.peak = max(self.peak, equity)
        self.streak = self.streak + 1 if equity < prev else 0
        hit = ""
        if not math.isnan(max_dd) and equity <= self.peak * (1.0 - max_dd):
            hit = "max_drawdown"
        elif not math.isnan(bar_loss) and equity <= prev * (1.0 - bar_loss):
            hit = "bar_loss_limit"
        elif losing > 0 and self.streak >= losing:
            hit = "max_losing_bars"
        if not hit:
            if i > self.halted_to:
                self.reason = ""
            return ""
        self.halted_to = i + cooldown if cooldown >= 0 else n_bars_hint
        self.streak = 0
        self.peak = equity
        self.reason = hit
        return hit
