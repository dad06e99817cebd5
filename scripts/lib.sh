# Shared by the scripts: repository root, a project venv, and the Debian packages the gate's tools need.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WAVEGATE_VENV:-$ROOT/.venv}"
# WAVEGATE_PYTHON: an interpreter that already has wavegate's dependencies, used as is (ensure_venv installs
# nothing into it), e.g. another checkout's venv; the scripts put this checkout first on PYTHONPATH.
PY="${WAVEGATE_PYTHON:-$VENV/bin/python}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "error: '$*' needs root; run it as root or install sudo" >&2; return 1; fi
}

apt_install() {
  # Installs Debian packages once; `apt-get update` first because a fresh machine has no package lists.
  echo "== installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_prometheus() {
  # promtool and a node exporter are references the exposition self-tests compare with.
  # VictoriaMetrics (with vmagent and vmauth) is the second backend the same verdicts are checked on.
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
      || ! command -v prometheus-node-exporter >/dev/null 2>&1 || ! command -v victoria-metrics >/dev/null 2>&1 \
      || ! command -v vmagent >/dev/null 2>&1 || ! command -v vmauth >/dev/null 2>&1; then
    apt_install prometheus prometheus-node-exporter victoria-metrics
  fi
  # The Debian packages start a system Prometheus on :9090, a node exporter on :9100 and VictoriaMetrics
  # on :8428 where a service manager runs; ours are our own.
  if command -v systemctl >/dev/null 2>&1; then
    for service in prometheus prometheus-node-exporter victoria-metrics; do
      if systemctl is-active --quiet "$service" 2>/dev/null; then
        as_root systemctl stop "$service" || true
      fi
    done
  fi
}

ensure_venv() {
  # $1: the extras to install, e.g. "report,dev"
  if [ -n "${WAVEGATE_PYTHON:-}" ]; then
    echo "== using $PY as is (WAVEGATE_PYTHON); nothing is installed"
    return 0
  fi
  if [ ! -x "$PY" ]; then
    echo "== creating $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
  fi
  echo "== installing wavegate and its dependencies into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[$1]"
}

ensure_report_tools() {
  # The report's screenshots need Chromium, its bundled Allure HTML needs Node.js and npm.
  local missing=()
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  # Allure 3 (npm, about 53 MB) into the cache, announced here at install time: a report build never installs.
  "$PY" -m wavegate.report --install-tools >/dev/null
}
