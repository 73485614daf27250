"""The ordered registry of demo-data loaders that `flask demo load` runs, and the report they fill.

How to add a loader (facilities, bookings, events, indicators, ...)
--------------------------------------------------------------------
1. Create ``app/demo/<topic>.py``. Every module in the ``app.demo`` package is imported by
   :func:`registered_loaders`, so nothing else needs editing.
2. Write a function taking ``(session, report)`` and register it with :func:`demo_loader`::

       import sqlalchemy as sa
       from app.demo.loaders import demo_loader, ORDER_FACILITIES

       @demo_loader("facilities", order=ORDER_FACILITIES)
       def load_facilities(session, report):
           for spec in FACILITIES:
               if session.scalar(sa.select(Facility.id).where(Facility.name_ja == spec.name_ja)):
                   report.exists("facilities")
                   continue
               session.add(Facility(name_ja=spec.name_ja, ...))
               report.add("facilities")

Rules for a loader:

- **Idempotent by natural keys** (an e-mail, a name, a (room, day) pair): look the row up first and skip it
  when present, so a second run adds nothing. Call ``report.add(what, n)`` for rows added and
  ``report.exists(what, n)`` for rows found; the command prints the totals and says when nothing was added.
- **Do not commit.** The command flushes and commits after each loader (a failing loader leaves the earlier
  ones saved and its own work rolled back; running the command again continues where it stopped).
- Find rows made by earlier loaders by their natural keys: ``app.demo.accounts.DEMO_ACCOUNTS`` (e-mail per
  key such as ``"facility_staff"``) and ``app.demo.organizations.ORGANIZATIONS`` (``name_ja``), or
  ``report.accounts``.
- Accounts that a person should sign in with go through ``report.account(...)`` so they are printed with
  their passwords at the end.
- Big tables: insert in bulk (``session.execute(sa.insert(Model), rows)``) rather than one ``add`` per row.
- Dates relative to today (``app.core.time.today_tokyo``) keep the demo current; keep it deterministic
  otherwise (``random.Random(<fixed seed>)``) so that natural keys are stable between runs.

The ``order`` constants leave room between the domains: accounts 100, organizations 200, facilities 300,
bookings 400, events 500, indicators 600; use e.g. ``ORDER_EVENTS + 10`` for a second events loader.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

ORDER_ACCOUNTS = 100
ORDER_ORGANIZATIONS = 200
ORDER_FACILITIES = 300
ORDER_BOOKINGS = 400
ORDER_EVENTS = 500
ORDER_INDICATORS = 600

# Modules of this package that hold no loaders.
_NOT_LOADER_MODULES = {"commands", "loaders"}


@dataclass(frozen=True)
class DemoAccount:
    """An account printed at the end of `flask demo load`, with its password."""

    email: str
    password: str
    role: str
    description: str


@dataclass
class DemoReport:
    """What the loaders added and found, and the accounts to print."""

    added: Counter = field(default_factory=Counter)
    existing: Counter = field(default_factory=Counter)
    accounts: list[DemoAccount] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        """Count N new rows of WHAT (a plural noun, e.g. "organizations")."""
        self.added[what] += n

    def exists(self, what: str, n: int = 1) -> None:
        """Count N rows of WHAT that were already there."""
        self.existing[what] += n

    def account(self, *, email: str, password: str, role: str, description: str) -> None:
        """Remember an account to print with its password."""
        self.accounts.append(DemoAccount(email=email, password=password, role=role, description=description))

    @property
    def added_anything(self) -> bool:
        return any(self.added.values())


LoaderFunction = Callable[..., None]


@dataclass(frozen=True)
class Loader:
    """A registered loader: a unique name, its place in the run, and the function(session, report)."""

    name: str
    order: int
    function: LoaderFunction


_REGISTRY: dict[str, Loader] = {}


def _qualified(function: LoaderFunction) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def demo_loader(name: str, *, order: int) -> Callable[[LoaderFunction], LoaderFunction]:
    """Register the decorated function(session, report) as the loader NAME, run by ascending ORDER."""

    def register(function: LoaderFunction) -> LoaderFunction:
        existing = _REGISTRY.get(name)
        # Re-importing the same module (reloads in tests) re-registers the same function: fine.
        if existing is not None and _qualified(existing.function) != _qualified(function):
            raise ValueError(f"demo loader {name!r} is registered twice")
        _REGISTRY[name] = Loader(name=name, order=order, function=function)
        return function

    return register


def _import_loader_modules() -> None:
    import app.demo as package  # late: the loader modules register themselves with this one as they are imported

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_") or module.name in _NOT_LOADER_MODULES:
            continue
        importlib.import_module(f"{package.__name__}.{module.name}")


def registered_loaders() -> list[Loader]:
    """Every loader of the app.demo package, in running order (order, then name)."""
    _import_loader_modules()
    return sorted(_REGISTRY.values(), key=lambda loader: (loader.order, loader.name))
