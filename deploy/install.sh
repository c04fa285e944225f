#!/usr/bin/env bash
# Installs the scheduler as a systemd service, run as root on the server:
#   sudo bash deploy/install.sh
# Copies the project to /opt/slogan-scheduler, creates the user, the virtual environment, the
# settings every command shares (/etc/slogan-scheduler/scheduler.env), the command
# /usr/local/bin/slogan-scheduler and the unit, and starts it. Run again to update: posts.yaml,
# state/, the ledger and the settings on the server are kept.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
target=/opt/slogan-scheduler

id slogan-scheduler >/dev/null 2>&1 || useradd --system --home-dir "$target" --shell /usr/sbin/nologin slogan-scheduler
mkdir -p "$target" /etc/slogan-scheduler
chmod 700 /etc/slogan-scheduler
tar -C "$source_dir" --exclude ./.venv --exclude ./state --exclude ./outbox --exclude ./preview --exclude ./.git \
  --exclude ./posts.yaml --exclude ./.env -cf - . | tar -C "$target" -xf -
[ -f "$target/posts.yaml" ] || cp "$source_dir/posts.yaml" "$target/posts.yaml"
python3 -m venv "$target/.venv"
"$target/.venv/bin/pip" install --quiet "$target"
mkdir -p "$target/state" "$target/outbox" "$target/preview"
install -d -m 700 -o slogan-scheduler -g slogan-scheduler /var/lib/slogan-scheduler
chmod 700 "$target/state"
chown -R slogan-scheduler:slogan-scheduler "$target/state" "$target/outbox" "$target/preview"
touch /etc/slogan-scheduler/secrets.env
chmod 600 /etc/slogan-scheduler/secrets.env
[ -f /etc/slogan-scheduler/scheduler.env ] || install -m 644 "$source_dir/deploy/scheduler.env" /etc/slogan-scheduler/scheduler.env
install -m 755 "$source_dir/deploy/slogan-scheduler" /usr/local/bin/slogan-scheduler
install -m 644 "$source_dir/deploy/slogan-scheduler.service" /etc/systemd/system/slogan-scheduler.service
slogan-scheduler validate
systemctl daemon-reload
systemctl enable --now slogan-scheduler
systemctl status --no-pager slogan-scheduler || true
