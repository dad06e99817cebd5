#!/usr/bin/env bash
# Validates a running system's metrics by running the gate's observability criteria (areas coverage,
# quality, integration): the three endpoints reachable, text format, required metrics / labels / types /
# buckets, label cardinality, the 12 metrics present in Prometheus. Missing metrics are never "valid".
#
#   scripts/validate_metrics.sh [--env NAME | --env-file PATH] [pytest options...]
#
# Exit: 0 valid, 1 invalid, 2 Prometheus or an endpoint unreachable (or the configuration is unusable).
# Log: reports/cp2-wave1-deployment/logs/validate_metrics.log
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
PYTHON="${WAVEGATE_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x "$PY" ]; then PYTHON="$PY"; else PYTHON="python3"; fi
fi
LOGS="reports/cp2-wave1-deployment/logs"
OUT="reports/cp2-wave1-deployment/validation/validate_metrics"
mkdir -p "$LOGS"
rm -f "$OUT/gate-results.json"  # never judge by a previous run's results
LOG="$LOGS/validate_metrics.log"

env_args=(--env=local)
for arg in "$@"; do
  case "$arg" in --env=*|--env|--env-file=*|--env-file) env_args=() ;; esac
done

{
  echo "validate_metrics: $(date -u +%Y-%m-%dT%H:%M:%SZ); areas coverage, quality, integration"
} | tee "$LOG"
set +e
"$PYTHON" -m pytest -p no:cacheprovider "${env_args[@]}" --area coverage,quality,integration \
  --gate-output="$OUT" "$@" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
set -e
# The gate says "error" for a criterion it could not evaluate (Prometheus or an endpoint unreachable, a
# bad response): for this script that is exit 2, even when another criterion also failed.
if [ "$status" = 1 ] && [ -f "$OUT/gate-results.json" ] && "$PYTHON" - "$OUT/gate-results.json" <<'PYEOF'
import json, sys
records = json.load(open(sys.argv[1])).get("criteria", [])
sys.exit(0 if any(r.get("verdict") == "error" for r in records) else 1)
PYEOF
then
  status=6
fi
case "$status" in
  0) echo "validate_metrics: VALID (results: $OUT/gate-results.json)" | tee -a "$LOG"; exit 0 ;;
  1) echo "validate_metrics: INVALID: a metrics criterion failed (see above; results: $OUT/gate-results.json)" | tee -a "$LOG"; exit 1 ;;
  6) echo "validate_metrics: UNREACHABLE: Prometheus or a metrics endpoint did not answer (criteria in error above)" | tee -a "$LOG"; exit 2 ;;
  4) echo "validate_metrics: bad configuration (see the message above); is the profile state file there? run scripts/run_cp1_profile.sh" | tee -a "$LOG"; exit 2 ;;
  *) echo "validate_metrics: the gate ended with pytest exit code $status; treated as invalid" | tee -a "$LOG"; exit 1 ;;
esac
