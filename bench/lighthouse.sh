#!/usr/bin/env bash
# Page weight and Lighthouse (desktop) scores of the customer-facing and dispatch pages, against a
# running server with the demo data (`make run`, or scripts/run.sh). Not part of `make test`.
#
#   npm i -E --prefix /tmp/lh lighthouse@12.2.3        # outside the repository; 12.x runs on Node 20
#   LIGHTHOUSE=/tmp/lh/node_modules/.bin/lighthouse CHROME_PATH=/usr/bin/chromium bench/lighthouse.sh
#
# BASE (http://127.0.0.1:8000) is the server; the demo users of scripts/run.sh sign in. Prints the
# bytes of each page's HTML with and without gzip, then its accessibility and best-practices scores.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}
LIGHTHOUSE=${LIGHTHOUSE:-lighthouse}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# sign_in <login path> <username> <password> <cookie jar>: a session through the login form.
sign_in() {
  curl -s -c "$4" -b "$4" -o "$OUT/login.html" "$BASE$1"
  local token
  token=$(grep -o 'name="csrfmiddlewaretoken" value="[^"]*"' "$OUT/login.html" | head -1 | cut -d'"' -f4)
  curl -s -c "$4" -b "$4" -o /dev/null -e "$BASE$1" --data-urlencode "csrfmiddlewaretoken=$token" \
    --data-urlencode "username=$2" --data-urlencode "password=$3" "$BASE$1"
  grep -q sessionid "$4" || { echo "could not sign in as $2" >&2; exit 1; }
}
cookie_header() { awk '$6 == "sessionid" || $6 == "csrftoken" {printf "%s=%s; ", $6, $7}' "$1"; }

sign_in /portal/login/ customer@oms.example demo-customer-pass "$OUT/portal.jar"
sign_in /admin/login/ dispatcher@oms.example demo-dispatch-pass "$OUT/staff.jar"
# The newest order of the list that shows a map (a delivery still under way).
for order in $(curl -s -b "$OUT/portal.jar" "$BASE/portal/" | grep -o '/portal/orders/ORD-[0-9-]*/' | uniq); do
  curl -s -b "$OUT/portal.jar" "$BASE$order" | grep -q 'data-map' && break
done
track=$(curl -s -b "$OUT/portal.jar" "$BASE$order" | grep -o '/track/[A-Za-z0-9_-]*/' | head -1)

pages=("portal /portal/" "portal $order" "public $track" "staff /admin/console/dispatch/" "staff /admin/console/dashboard/")
printf '%-44s %10s %10s\n' page "html (B)" "gzip (B)"
for entry in "${pages[@]}"; do
  read -r who path <<<"$entry"
  jar=$OUT/$who.jar
  [ "$who" = public ] && jar=/dev/null
  plain=$(curl -s -b "$jar" -o /dev/null -w '%{size_download}' "$BASE$path")
  zipped=$(curl -s -b "$jar" -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$BASE$path")
  printf '%-44s %10s %10s\n' "$path" "$plain" "$zipped"
done

printf '\n%-44s %14s %15s\n' page accessibility best-practices
for entry in "${pages[@]}"; do
  read -r who path <<<"$entry"
  headers='{}'
  [ "$who" != public ] && headers="{\"Cookie\": \"$(cookie_header "$OUT/$who.jar")\"}"
  "$LIGHTHOUSE" "$BASE$path" --quiet --preset=desktop --only-categories=accessibility,best-practices \
    --output=json --output-path="$OUT/report.json" --extra-headers="$headers" \
    --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync"
  python3 - "$OUT/report.json" "$path" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
scores = {key: round(category["score"] * 100) for key, category in report["categories"].items()}
failed = [a["id"] for a in report["audits"].values() if a.get("score") == 0 and a.get("scoreDisplayMode") == "binary"]
print(f"{sys.argv[2]:<44} {scores['accessibility']:>14} {scores['best-practices']:>15}  {' '.join(failed)}")
PY
done
