#!/usr/bin/env bash
# Gradescope's autograder image runs this once, as root, with the kit in /autograder/source.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --disable-pip-version-check -e /autograder/source
