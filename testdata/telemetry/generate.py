#!/usr/bin/env python3
"""Writes the web shop's telemetry fixtures (run from this directory).

The data belongs to the web shop of ../topology/webshop-*.json: its hosts,
services and orders database, one hour from 2026-11-01T10:00:00Z. The
pseudo-random numbers are seeded, so the output is the same on every run.
"""
import json
import random

BASE = 1793527200  # 2026-11-01T10:00:00Z, epoch seconds
rnd = random.Random(42)

def metrics():
    out = []
    hosts = {"node-1.shop.internal": 35.0, "node-2.shop.internal": 55.0, "db-1.shop.internal": 20.0}
    for host, cpu in hosts.items():
        for i in range(61):
            t = BASE + 60 * i
            load = cpu + 10 * rnd.random() + (25 if host == "node-2.shop.internal" and 30 <= i < 40 else 0)
            out.append(["system.cpu.user", t, round(load, 1), {"hostname": host, "type": "gauge", "tags": ["env:prod"]}])
            out.append(["system.mem.used", t, 4_000_000_000 + rnd.randrange(0, 500_000_000), {"hostname": host, "type": "gauge", "tags": ["env:prod"]}])
    services = {"frontend": 120.0, "checkout": 80.0, "catalog": 15.0}
    node = {"frontend": "node-1.shop.internal", "checkout": "node-2.shop.internal", "catalog": "node-1.shop.internal"}
    for svc, lat in services.items():
        for i in range(61):
            t = BASE + 60 * i
            spike = 3.0 if svc == "checkout" and 30 <= i < 40 else 1.0
            out.append(["http.server.duration", t, round(lat * spike * (0.8 + 0.4 * rnd.random()), 2),
                        {"hostname": node[svc], "type": "gauge", "tags": ["service:" + svc, "env:prod"]}])
            out.append(["http.server.requests", t, rnd.randrange(50, 150),
                        {"hostname": node[svc], "type": "count", "tags": ["service:" + svc, "env:prod"]}])
    for i in range(61):
        out.append(["postgresql.connections", BASE + 60 * i, 20 + rnd.randrange(0, 15),
                    {"hostname": "db-1.shop.internal", "type": "gauge", "tags": ["db:orders", "stackstate-identifier:urn:database:/postgresql/orders"]}])
    return {"internalHostname": "node-1.shop.internal", "metrics": out}

def events():
    return {"internalHostname": "node-1.shop.internal", "events": {
        "deployments": [{
            "context": {"category": "Deployments", "source": "argocd", "source_identifier": "checkout-rollout-42",
                        "element_identifiers": ["urn:service:/checkout"], "data": {"image": "shop/checkout:2.4.1"},
                        "source_links": [{"title": "ArgoCD", "url": "https://argocd.shop.internal/applications/checkout"}]},
            "event_type": "DeploymentEvent", "msg_title": "checkout 2.4.1 rolled out",
            "msg_text": "Deployment checkout updated from 2.4.0 to 2.4.1", "source_type_name": "argocd",
            "tags": ["env:prod", "version:2.4.1"], "timestamp": BASE + 29 * 60}],
        "config": [{
            "context": {"category": "Changes", "source": "puppet", "element_identifiers": ["urn:host:/node-2.shop.internal"]},
            "event_type": "ConfigurationChangedEvent", "msg_title": "Puppet run for node-2.shop.internal changed",
            "msg_text": "Puppet changed 3 resources on node-2.shop.internal", "source_type_name": "puppet",
            "tags": ["env:prod"], "timestamp": BASE + 10 * 60}],
        "alerts": [{
            "context": {"category": "Alerts", "source": "prometheus", "source_identifier": "orders-db-connections",
                        "element_identifiers": ["urn:database:/postgresql/orders"]},
            "event_type": "AlertEvent", "msg_title": "orders database: connections high",
            "msg_text": "postgresql.connections above 30 for 5 minutes", "source_type_name": "prometheus",
            "tags": ["severity:warning"], "alert_type": "warning", "timestamp": BASE + 35 * 60}],
        "ExternalMonitor": [{
            "msg_title": "Synthetic check failed", "msg_text": "checkout page answered 502",
            "source_type_name": "ExternalMonitor", "host": "node-1.shop.internal",
            "tags": ["check:checkout-page", "alert_level:error"], "timestamp": BASE + 33 * 60}],
    }}

def attr(k, v):
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    return {"key": k, "value": {"stringValue": v}}

def spans():
    by_service = {}
    def span(svc, tid, sid, parent, name, kind, start, dur, status, attrs):
        s = {"traceId": tid, "spanId": sid, "name": name, "kind": kind,
             "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur),
             "attributes": [attr(k, v) for k, v in attrs.items()], "status": {"code": status}}
        if parent:
            s["parentSpanId"] = parent
        by_service.setdefault(svc, []).append(s)
    for n in range(40):
        tid = "%032x" % rnd.getrandbits(128)
        ids = ["%016x" % rnd.getrandbits(64) for _ in range(4)]
        start = (BASE + 60 * n + rnd.randrange(0, 50)) * 10**9
        slow = 30 <= n < 40
        checkout = (80 if not slow else 600) + rnd.randrange(0, 40)
        fails = n in (33, 36)
        db = 5 + rnd.randrange(0, 10) + (400 if slow else 0)
        catalog = 10 + rnd.randrange(0, 10)
        front = checkout + catalog + 20
        code = 500 if fails else 200
        err = 2 if fails else 1
        span("frontend", tid, ids[0], None, "POST /checkout", 2, start, front * 10**6, err,
             {"http.method": "POST", "http.route": "/checkout", "http.status_code": code})
        span("checkout", tid, ids[1], ids[0], "PlaceOrder", 2, start + 5 * 10**6, checkout * 10**6, err,
             {"rpc.method": "PlaceOrder"})
        span("checkout", tid, ids[2], ids[1], "INSERT orders", 3, start + 8 * 10**6, db * 10**6, 0,
             {"db.system": "postgresql", "db.name": "orders"})
        span("catalog", tid, ids[3], ids[0], "GetProduct", 2, start + (checkout + 8) * 10**6, catalog * 10**6, 0,
             {"rpc.method": "GetProduct"})
    host = {"frontend": "node-1.shop.internal", "checkout": "node-2.shop.internal", "catalog": "node-1.shop.internal"}
    return {"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", svc), attr("host.name", host[svc]),
                                    attr("deployment.environment", "prod")]},
        "scopeSpans": [{"scope": {"name": "shop"}, "spans": sp}]} for svc, sp in sorted(by_service.items())]}

for name, doc in [("webshop-metrics.json", metrics()), ("webshop-events.json", events()), ("webshop-spans.otlp.json", spans())]:
    with open(name, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
