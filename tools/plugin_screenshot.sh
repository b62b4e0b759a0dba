#!/usr/bin/env bash
# Renders the plugin's Standalone window under Xvfb and saves a screenshot (docs/plugin-editor.png).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/plugin-editor.png}
app=.build-plugin/TMRVC_artefacts/Release/Standalone/TMRVC
[ -x "$app" ] || bash tools/build_plugin.sh
Xvfb :97 -screen 0 900x600x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app_pid $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=:97 "$app" >/dev/null 2>&1 &
app_pid=$!
sleep "${SCREENSHOT_WAIT:-6}"
xwd -root -display :97 | xwdtopnm 2>/dev/null | pnmtopng > "$out"
echo "wrote $out"
