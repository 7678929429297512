"""`deploybot stats`: the delivery figures of every app (or one) from the store, for dashboards (`--json`)
or a person. Deployments made outside deploybot count when deploybot followed them (its records)."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

from ..domain.catalog import Catalog
from ..render.stats import stats_text
from ..usecases.delivery import Delivery, as_json
from .config import ConfigError


async def stats(catalog: Catalog, app: str | None, environment: str | None, days: int, as_json_: bool) -> int:
    from .stores import load_store_settings, open_store

    targets = [a for a in catalog.all() if (app is None or a.name == app) and environment in (None, a.environment)]
    if not targets:
        raise ConfigError(f"no app {app!r}{f' in {environment!r}' if environment else ''} in the catalog")
    store = open_store(load_store_settings())
    try:
        delivery = Delivery(store, lambda: datetime.now(UTC))
        found = [(target, await delivery.figures(target, days)) for target in targets]
    finally:
        store.close()
    if as_json_:
        sys.stdout.write(json.dumps([as_json(t, f) for t, f in found], indent=2) + "\n")
    else:
        for target, figures in found:
            # The Slack answer's text, without its bold and code marks.
            sys.stdout.write(re.sub(r"[*`]", "", stats_text(target, figures)) + "\n\n")
    return 0
