#!/usr/bin/env python3
"""A client of IODA's API v2, written from IODA's public API documentation
(https://api.ioda.inetintel.cc.gatech.edu/v2/) and nothing of vigie's: it
lists the datasources and the countries, reads each country's raw signals,
then the outage alerts, events and summary of the period, and checks every
answer's envelope as IODA documents it. Pointed at vigie's /v2 it must run
unchanged (issue 16's "done when"; crates/vigie-publish/tests/ioda_parity.rs
runs it against a real store).

    scripts/ioda-client.py BASE_URL FROM UNTIL
    scripts/ioda-client.py https://api.ioda.inetintel.cc.gatech.edu/v2 1704412800 1705017600
    scripts/ioda-client.py http://127.0.0.1:8080/v2 1704412800 1705017600

FROM and UNTIL are Unix seconds. Exits 0 when every answer had IODA's
shape, prints what it read.
"""

import sys

import requests

ENVELOPE = {"type", "metadata", "requestParameters", "error", "perf", "data", "copyright"}


def get(base, path, **params):
    """GET base+path with params; checks IODA's envelope, returns data."""
    response = requests.get(base + path, params=params, timeout=120)
    response.raise_for_status()
    body = response.json()
    missing = ENVELOPE - set(body)
    if missing:
        raise SystemExit(f"{path}: envelope lacks {sorted(missing)}")
    if body["error"] is not None:
        raise SystemExit(f"{path}: error {body['error']}")
    return body["data"]


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    base = sys.argv[1].rstrip("/")
    start, end = int(sys.argv[2]), int(sys.argv[3])
    period = {"from": start, "until": end}

    datasources = get(base, "/datasources/")
    names = [d["datasource"] for d in datasources]
    for d in datasources:
        assert {"datasource", "name", "units"} <= set(d), d
    print(f"datasources: {', '.join(names)}")

    countries = get(base, "/entities/query", entityType="country", limit=5, page=0)
    for country in countries:
        assert {"code", "name", "type", "attrs"} <= set(country), country
        code = country["code"]
        sets = get(base, f"/signals/raw/country/{code}", datasource="bgp", maxPoints=500, **period)
        for series in sets[0]:
            for field in ("entityType", "entityCode", "entityName", "datasource",
                          "from", "until", "step", "nativeStep", "values"):
                assert field in series, (field, series)
            count = len(series["values"])
            expected = (series["until"] - series["from"]) // series["step"]
            assert count == expected, (count, expected)
            print(f"{code} {series['datasource']}: {count} values every {series['step']} s")
        regions = get(base, "/entities/query", entityType="region", relatedTo=f"country/{code}")
        print(f"{code}: {len(regions)} region(s)")

    alerts = get(base, "/outages/alerts", **period)
    for alert in alerts:
        assert {"datasource", "entity", "time", "level", "condition", "value"} <= set(alert), alert
    print(f"alerts: {len(alerts)}")

    events = get(base, "/outages/events", **period)
    for event in events:
        assert {"location", "location_name", "start", "duration", "score"} <= set(event), event
    overall = get(base, "/outages/events", format="ioda", overall="true", includeAlerts="true", **period)
    for event in overall:
        assert {"entity", "from", "until", "score", "alerts"} <= set(event), event
    print(f"events: {len(events)} per signal, {len(overall)} overall")

    summary = get(base, "/outages/summary", orderBy="score/desc", **period)
    scores = [row["scores"]["overall"] for row in summary]
    assert scores == sorted(scores, reverse=True), scores
    for row in summary:
        print(f"summary: {row['entity']['type']}/{row['entity']['code']} "
              f"{row['event_cnt']} event(s), overall score {row['scores']['overall']}")


if __name__ == "__main__":
    main()
