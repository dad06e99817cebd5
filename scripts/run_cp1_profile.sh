#!/usr/bin/env bash
# Runs the CP1 profile on this machine: Prometheus (127.0.0.1:9090) + the reference Router, Gateway and
# Worker; the profile's scenarios (normal traffic, error mix, overload burst, slow dependency) first with
# the Wave 1 flags off (the CP1 baseline window), then on (the candidate window). Records both windows in
# reports/cp2-wave1-deployment/state/local-profile.json (read by environments/local.yaml) and leaves
# Prometheus and the stack running for the gate; `--stop` stops them.
#
#   scripts/run_cp1_profile.sh [--duration SECONDS] [--regression KNOB] [--scrape-interval 2s] [...]
#   scripts/run_cp1_profile.sh --stop
#
# Knobs (Wave 1 phase only): latency, errors, missing_metric, wrong_type, cardinality, crash, hang.
# Exit: 0 every step passed, 1 a step failed, 2 a service is not running (or a port is taken).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

REPORTS="reports/cp2-wave1-deployment"
STATE="$REPORTS/state"
LOGS="$REPORTS/logs"
PYTHON="${WAVEGATE_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x "$PY" ]; then PYTHON="$PY"; else PYTHON="python3"; fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "${1:-}" = "--stop" ]; then
  exec "$PYTHON" -m fixtures.stack.profile stop --state-dir "$STATE"
fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exec "$PYTHON" -m fixtures.stack.profile run --help
fi

mkdir -p "$LOGS" "$STATE"
if ! "$PYTHON" -c 'import prometheus_client' 2>/dev/null; then
  echo "error: $PYTHON cannot import prometheus_client; run scripts/demo once (it creates .venv)" | tee "$LOGS/run_cp1_profile.log" >&2
  exit 2
fi
if ! command -v prometheus >/dev/null 2>&1; then
  echo "error: prometheus is not installed (apt-get install prometheus, or run scripts/demo)" | tee "$LOGS/run_cp1_profile.log" >&2
  exit 2
fi

set +e
"$PYTHON" -u -m fixtures.stack.profile run --state-dir "$STATE" --log-dir "$LOGS" "$@" 2>&1 | tee "$LOGS/run_cp1_profile.log"
status=${PIPESTATUS[0]}
set -e
# The outcome goes into the log too: the deployment report shows it as the script's completion status.
case "$status" in
  0) echo "run_cp1_profile: all steps passed (log: $LOGS/run_cp1_profile.log)" | tee -a "$LOGS/run_cp1_profile.log" ;;
  2) echo "run_cp1_profile: a service is not running (log: $LOGS/run_cp1_profile.log)" \
       | tee -a "$LOGS/run_cp1_profile.log" >&2 ;;
  *) status=1; echo "run_cp1_profile: a step failed (log: $LOGS/run_cp1_profile.log)" \
       | tee -a "$LOGS/run_cp1_profile.log" >&2 ;;
esac
exit "$status"
