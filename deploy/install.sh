#!/usr/bin/env bash
# Installs the scheduler as a systemd service, run as root on the server:
#   sudo bash deploy/install.sh
# Copies the project to /opt/slogan-scheduler, creates the user, the virtual environment and the
# unit, and starts it. Run again to update: posts.yaml and state/ on the server are kept.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
target=/opt/slogan-scheduler

id slogan-scheduler >/dev/null 2>&1 || useradd --system --home-dir "$target" --shell /usr/sbin/nologin slogan-scheduler
mkdir -p "$target" /etc/slogan-scheduler
chmod 700 /etc/slogan-scheduler
rsync -a --exclude .venv --exclude state --exclude outbox --exclude preview --exclude .git \
  --exclude posts.yaml --exclude .env "$source_dir"/ "$target"/
[ -f "$target/posts.yaml" ] || cp "$source_dir/posts.yaml" "$target/posts.yaml"
python3 -m venv "$target/.venv"
"$target/.venv/bin/pip" install --quiet "$target"
mkdir -p "$target/state" "$target/outbox" "$target/preview"
chmod 700 "$target/state"
chown -R slogan-scheduler:slogan-scheduler "$target/state" "$target/outbox" "$target/preview"
touch /etc/slogan-scheduler/secrets.env
chmod 600 /etc/slogan-scheduler/secrets.env
install -m 644 "$source_dir/deploy/slogan-scheduler.service" /etc/systemd/system/slogan-scheduler.service
"$target/.venv/bin/python" "$target/run.py" validate --config "$target/posts.yaml"
systemctl daemon-reload
systemctl enable --now slogan-scheduler
systemctl status --no-pager slogan-scheduler || true
