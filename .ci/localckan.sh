#!/usr/bin/env bash
# Run tests/localckan (LocalCKAN / TestAppCKAN) inside a real CKAN's virtualenv.
#
#   .ci/localckan.sh                    # CKAN venv /tmp/real-ckan/venv, config /tmp/real-ckan/ckan-5000.ini
#   CKAN_VENV=/path/venv CKAN_INI=/path/ckan.ini .ci/localckan.sh [extra pytest args]
#
# ckanx goes into the CKAN venv as an editable install *without* its dependencies; the ones it needs
# that are missing (plus pytest) are then installed under a constraints file frozen from the venv
# first, so pip can add packages but never move one of CKAN's pins. A final check fails the run if
# any version that was there before changed anyway.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CKAN_VENV:-/tmp/real-ckan/venv}
export CKAN_INI=${CKAN_INI:-/tmp/real-ckan/ckan-5000.ini}
py="$venv/bin/python"

[[ -x $py ]] || { echo "localckan.sh: no CKAN virtualenv at $venv (set CKAN_VENV)" >&2; exit 2; }
[[ -f $CKAN_INI ]] || { echo "localckan.sh: no CKAN config at $CKAN_INI (set CKAN_INI)" >&2; exit 2; }
"$py" -c 'import ckan' || { echo "localckan.sh: ckan is not importable in $venv" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name==version of everything installed except ckanx itself; direct-URL and editable entries cannot
# be constraints and are left out
"$py" -m pip freeze --all 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' | grep -viE '^ckanx==' >"$work/before.txt"

"$py" -m pip install --quiet --no-deps -e "$repo"

"$py" - "$repo/pyproject.toml" >"$work/needs.txt" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
print("pytest")
PY
"$py" -m pip install --quiet -c "$work/before.txt" -r "$work/needs.txt"

"$py" -m pip freeze --all 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' >"$work/after.txt"
moved=$(comm -23 <(sort "$work/before.txt") <(sort "$work/after.txt") || true)
if [[ -n $moved ]]; then
    echo "localckan.sh: installing ckanx changed the CKAN venv's pinned packages:" >&2
    echo "$moved" >&2
    exit 3
fi

cd "$repo"
# -p no:ckan / no:ckan_fixtures: CKAN's own pytest plugin would load the app at session start and
# unload every non-system plugin before the run; these tests check that LocalCKAN sets CKAN up
# itself, as in a script. -p no:ckanx: the embedded-server fixtures are not needed here.
set +e
"$py" -m pytest tests/localckan -m localckan -p no:cacheprovider \
    -p no:ckan -p no:ckan_fixtures -p no:ckanx "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "localckan.sh: no tests ran (pytest exit 5): treated as a failure" >&2
    exit 1
fi
exit $rc
