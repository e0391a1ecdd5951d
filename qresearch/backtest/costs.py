"""Transaction costs shared by the vectorized engine and (later) the simulator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from qresearch.config import Config
from qresearch.exceptions import ConfigError

__all__ = ["Costs"]


@dataclass(frozen=True, kw_only=True)
class Costs(Config):
    """Proportional fees, a fixed fee per order and slippage.

    Parameters
    ----------
    fees : float, default 0.0
        Fraction of the traded value paid per order (0.001 = 10 bps).
    fixed_fees : float, default 0.0
        Currency paid per order, whatever its size.
    slippage : float, default 0.0
        Fraction of the price lost per fill: buys fill at ``price * (1 + slippage)``,
        sells at ``price * (1 - slippage)``.

    Examples
    --------
    >>> c = Costs(fees=0.001, slippage=0.0005)
    >>> c.buy_price(100.0), c.sell_price(100.0), c.fee(10_000.0)
    (100.05, 99.95, 10.0)
    >>> Costs(fees=-0.1)
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ConfigError: Costs.fees must be a finite number >= 0; got -0.1.
    """

    kind: ClassVar[str] = "costs"

    fees: float = 0.0
    fixed_fees: float = 0.0
    slippage: float = 0.0

    def validate(self) -> None:
        """Check that every cost is finite and non-negative, and slippage below 1."""
        for name in ("fees", "fixed_fees", "slippage"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"Costs.{name} must be a finite number >= 0; got {value!r}.")
        if self.slippage >= 1:
            raise ConfigError(
                f"Costs.slippage is a fraction of the price and must be < 1; got {self.slippage}."
            )

    def buy_price(self, price: float) -> float:
        """Return the fill price of a buy at ``price``."""
        return price * (1.0 + self.slippage)

    def sell_price(self, price: float) -> float:
        """Return the fill price of a sell at ``price``."""
        return price * (1.0 - self.slippage)

    def fee(self, traded_value: float) -> float:
        """Return the fee of one order of absolute value ``traded_value``."""
        return abs(traded_value) * self.fees + self.fixed_fees
