#!/usr/bin/env python3
"""Checks used by deploy/verify.sh (needs PyYAML).

  check.py manifests FILE.yaml ALERTS.yml   cross-checks of a rendered kustomization
  check.py exprs DASHBOARD.json... -- RULES.yml...   list every PromQL expression (JSON lines)
  check.py query PROM_URL DASHBOARD.json... -- RULES.yml...
        evaluates every expression through Prometheus' /api/v1/query: fails if any errors, or
        if a dashboard query returns no series (alert expressions may be empty: that is
        "not firing")
  check.py rules PROM_URL   every loaded rule has health "ok"
  check.py wait PROM_URL EXPR TIMEOUT_S   waits until EXPR returns a series
"""
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

# Grafana's macros, as Grafana would expand them for a short range at a fine resolution.
GRAFANA_MACROS = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "${__interval}": "15s",
    "$__range": "5m",
    "${__range}": "5m",
}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}", file=sys.stderr)


def ok(msg):
    print(f"ok   {msg}")


# --- expressions -----------------------------------------------------------------------------

def dashboard_exprs(path):
    dash = json.load(open(path, encoding="utf-8"))

    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    n = 0
    for p in walk(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        targets = p.get("targets", [])
        if not targets:
            fail(f"{path}: panel {p.get('title')!r} has no query")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                fail(f"{path}: panel {p.get('title')!r} target {t.get('refId')} has an empty expr")
                continue
            n += 1
            yield {"source": path, "what": f"panel {p.get('title')!r} {t.get('refId')}",
                   "expr": expr, "need_series": True}
    if n == 0:
        fail(f"{path}: no queries found")


def expand(expr):
    for k in sorted(GRAFANA_MACROS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_MACROS[k])
    left = re.findall(r"\$\{?\w+\}?", expr)
    if left:
        raise ValueError(f"unknown dashboard variable(s) {left}")
    return expr


def rule_exprs(path):
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            yield {"source": path, "what": f"rule {g['name']}/{name}", "expr": r["expr"],
                   "need_series": False}


def split_args(args):
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1:]
    return args, []


def all_exprs(args):
    dashes, rules = split_args(args)
    out = []
    for d in dashes:
        out += list(dashboard_exprs(d))
    for r in rules:
        out += list(rule_exprs(r))
    return out


# --- Prometheus HTTP API ---------------------------------------------------------------------

def prom_get(base, path, params=None):
    url = base.rstrip("/") + path
    data = urllib.parse.urlencode(params or {}).encode()
    req = urllib.request.Request(url, data=data if params else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:  # 400/422: the error is in the JSON body
        try:
            body = json.load(e)
        except Exception:
            body = {"status": "error", "error": f"HTTP {e.code}"}
    return body


def instant(base, expr):
    return prom_get(base, "/api/v1/query", {"query": expr})


def cmd_query(base, args):
    exprs = all_exprs(args)
    for e in exprs:
        label = f"{e['source']}: {e['what']}"
        try:
            q = expand(e["expr"]) if e["need_series"] else e["expr"]
        except ValueError as err:
            fail(f"{label}: {err}")
            continue
        body = instant(base, q)
        if body.get("status") != "success":
            fail(f"{label}: Prometheus error: {body.get('errorType', '')} {body.get('error')}\n       expr: {q}")
            continue
        for w in body.get("warnings", []) or []:
            print(f"warn {label}: {w}")
        res = body["data"]["result"]
        n = len(res) if isinstance(res, list) else 1
        if e["need_series"] and n == 0:
            fail(f"{label}: no series\n       expr: {q}")
            continue
        ok(f"{label}: {n} series")
    print(f"{len(exprs)} expressions evaluated, {len(failures)} failed")


def cmd_rules(base):
    body = prom_get(base, "/api/v1/rules")
    n = 0
    for g in body.get("data", {}).get("groups", []):
        for r in g.get("rules", []):
            n += 1
            if r.get("health") != "ok":
                fail(f"rule {g['name']}/{r.get('name')}: health {r.get('health')!r} {r.get('lastError', '')}")
            else:
                ok(f"rule {g['name']}/{r.get('name')}: health ok, state {r.get('state', '-')}")
    if n == 0:
        fail("Prometheus has loaded no rules")


def cmd_wait(base, expr, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            body = instant(base, expr)
            if body.get("status") == "success" and body["data"]["result"]:
                ok(f"{expr}: {json.dumps(body['data']['result'])[:300]}")
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(2)
    fail(f"timed out after {timeout}s waiting for a series from {expr}")


# --- rendered manifests ----------------------------------------------------------------------

def cmd_manifests(path, alerts_path):
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    want = ["Deployment", "PersistentVolumeClaim", "ConfigMap", "Secret", "Service",
            "ServiceMonitor", "PrometheusRule", "NetworkPolicy"]
    for k in want:
        if len(by_kind.get(k, [])) != 1:
            fail(f"{path}: expected exactly one {k}, found {len(by_kind.get(k, []))}")
    if failures:
        return
    dep = by_kind["Deployment"][0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"].get("labels", {})
    c = pod["containers"][0]
    checks = [
        (spec.get("replicas") == 1, "Deployment has 1 replica"),
        (spec.get("strategy", {}).get("type") == "Recreate", "Deployment strategy is Recreate"),
        (all(pod_labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
         "Deployment selector matches its pod labels"),
        (pod.get("securityContext", {}).get("runAsNonRoot") is True
         and pod["securityContext"].get("runAsUser", 0) != 0, "pod runs as non-root"),
        (c.get("securityContext", {}).get("readOnlyRootFilesystem") is True, "read-only root filesystem"),
        (c["securityContext"].get("allowPrivilegeEscalation") is False, "no privilege escalation"),
        (c["securityContext"].get("capabilities", {}).get("drop") == ["ALL"], "all capabilities dropped"),
        (c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "liveness probe on /healthz"),
        (c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "readiness probe on /readyz"),
        (all(k in c.get("resources", {}).get(x, {}) for x in ("requests", "limits") for k in ("cpu", "memory")),
         "cpu/memory requests and limits"),
    ]
    # volumes: the PVC, the ConfigMap (with every key it maps), the Secret
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    pvc = by_kind["PersistentVolumeClaim"][0]["metadata"]["name"]
    cm = by_kind["ConfigMap"][0]
    sec = by_kind["Secret"][0]
    checks.append((any(v.get("persistentVolumeClaim", {}).get("claimName") == pvc and mounts.get(n, {}).get("mountPath") == "/var/lib/fleetd"
                       for n, v in vols.items()), "PVC mounted at /var/lib/fleetd"))
    cmv = [v for v in vols.values() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    checks.append((len(cmv) == 1, "Deployment mounts the generated ConfigMap (hashed name)"))
    if cmv:
        keys = set(cm.get("data", {}))
        items = {i["key"] for i in cmv[0]["configMap"].get("items", [])}
        checks.append((items == keys, f"ConfigMap keys {sorted(keys)} all mapped into the pod"))
    checks.append((any(v.get("secret", {}).get("secretName") == sec["metadata"]["name"] for v in vols.values()),
                   "Deployment mounts the Secret"))
    # fleet.toml secret files all exist as Secret keys
    toml = cm["data"].get("fleet.toml", "")
    secret_keys = set(sec.get("data", {})) | set(sec.get("stringData", {}))
    mount_dir = next((mounts[n]["mountPath"] for n, v in vols.items() if "secret" in v), "")
    live = "\n".join(l for l in toml.splitlines() if not l.lstrip().startswith("#"))
    wanted = set(re.findall(r'file = "' + re.escape(mount_dir.rstrip("/")) + r'/([^"]+)"', live)) if mount_dir else set()
    checks.append((bool(wanted) and wanted <= secret_keys,
                   f"every secret file fleet.toml reads ({sorted(wanted)}) is a key of the Secret"))
    listen = re.search(r'^listen = "([^"]+)"', toml, re.M)
    checks.append((listen is not None and listen.group(1).startswith("0.0.0.0:"), "config listens on all pod interfaces"))
    svc = by_kind["Service"][0]
    checks.append((svc["spec"].get("selector") and all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
                   "Service selects the pods"))
    port_names = {p["name"] for p in c.get("ports", [])}
    checks.append((all(p.get("targetPort") in port_names for p in svc["spec"]["ports"]), "Service targets a named container port"))
    sm = by_kind["ServiceMonitor"][0]
    svc_labels = svc["metadata"].get("labels", {})
    checks.append((all(svc_labels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()),
                   "ServiceMonitor selects the Service"))
    svc_ports = {p["name"] for p in svc["spec"]["ports"]}
    checks.append((all(e.get("port") in svc_ports and e.get("path", "/metrics") == "/metrics" for e in sm["spec"]["endpoints"]),
                   "ServiceMonitor scrapes /metrics on a Service port"))
    np_ = by_kind["NetworkPolicy"][0]
    checks.append((all(pod_labels.get(k) == v for k, v in np_["spec"]["podSelector"].get("matchLabels", {}).items())
                   and np_["spec"]["podSelector"].get("matchLabels"), "NetworkPolicy selects the fleetd pods"))
    pr = by_kind["PrometheusRule"][0]
    alerts = yaml.safe_load(open(alerts_path, encoding="utf-8"))
    checks.append((pr["spec"] == alerts, f"PrometheusRule spec equals {alerts_path}"))
    for good, what in checks:
        (ok if good else fail)(f"{path}: {what}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "manifests":
        cmd_manifests(args[0], args[1])
    elif cmd == "exprs":
        for e in all_exprs(args):
            print(json.dumps(e))
    elif cmd == "query":
        cmd_query(args[0], args[1:])
    elif cmd == "rules":
        cmd_rules(args[0])
    elif cmd == "wait":
        cmd_wait(args[0], args[1], float(args[2]))
    else:
        sys.exit(__doc__)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
