#!/usr/bin/env bash
# Installs the scheduler as a systemd service, run as root on the server:
#   sudo bash deploy/install.sh                                  # runs /opt/slogan-scheduler/posts.yaml
#   sudo bash deploy/install.sh --git URL [--branch main]        # follows the team's repository
# Copies the project to /opt/slogan-scheduler, creates the user, the virtual environment, the
# settings every command shares (/etc/slogan-scheduler/scheduler.env), the command
# /usr/local/bin/slogan-scheduler and the unit, and starts it. Run again to update: posts.yaml,
# state/, the ledger and the settings on the server are kept.
# With --git it also makes a read-only deploy key (/var/lib/slogan-scheduler/deploy_key), clones the
# repository into /var/lib/slogan-scheduler/campaign and writes /etc/slogan-scheduler/git.env; if the
# forge refuses the clone, it prints the key to add and stops: run it again once the key is added.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
target=/opt/slogan-scheduler
state=/var/lib/slogan-scheduler
git_url=""
branch=main
while [ "$#" -gt 0 ]; do
  case "$1" in
    --git) git_url="${2:?--git needs the repository URL}"; shift 2 ;;
    --branch) branch="${2:?--branch needs a branch name}"; shift 2 ;;
    *) echo "install.sh: unknown argument $1 (usage: install.sh [--git URL] [--branch BRANCH])" >&2; exit 2 ;;
  esac
done

id slogan-scheduler >/dev/null 2>&1 || useradd --system --home-dir "$target" --shell /usr/sbin/nologin slogan-scheduler
mkdir -p "$target" /etc/slogan-scheduler
chmod 700 /etc/slogan-scheduler
tar -C "$source_dir" --exclude ./.venv --exclude ./state --exclude ./outbox --exclude ./preview --exclude ./.git \
  --exclude ./posts.yaml --exclude ./.env -cf - . | tar -C "$target" -xf -
[ -f "$target/posts.yaml" ] || cp "$source_dir/posts.yaml" "$target/posts.yaml"
python3 -m venv "$target/.venv"
"$target/.venv/bin/pip" install --quiet "$target"
# The package's bytecode, written here as root: the service user may not write /opt/slogan-scheduler,
# and without it every command and every start would first compile the package from source.
"$target/.venv/bin/python" -m compileall -q "$target/scheduler"
mkdir -p "$target/state" "$target/outbox" "$target/preview"
install -d -m 700 -o slogan-scheduler -g slogan-scheduler /var/lib/slogan-scheduler
chmod 700 "$target/state"
chown -R slogan-scheduler:slogan-scheduler "$target/state" "$target/outbox" "$target/preview"
touch /etc/slogan-scheduler/secrets.env
chmod 600 /etc/slogan-scheduler/secrets.env
[ -f /etc/slogan-scheduler/scheduler.env ] || install -m 644 "$source_dir/deploy/scheduler.env" /etc/slogan-scheduler/scheduler.env
if [ -n "$git_url" ]; then
  if ! command -v git >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git openssh-client
  fi
  [ -f "$state/deploy_key" ] || runuser -u slogan-scheduler -- \
    ssh-keygen -q -t ed25519 -N "" -C "slogan-scheduler@$(hostname)" -f "$state/deploy_key"
  sed "s|^SCHEDULER_GIT_BRANCH=.*|SCHEDULER_GIT_BRANCH=$branch|" "$source_dir/deploy/git.env" >/etc/slogan-scheduler/git.env
  chmod 644 /etc/slogan-scheduler/git.env
  if [ ! -d "$state/campaign/.git" ]; then
    ssh_command="$(set -a && . /etc/slogan-scheduler/git.env && printf '%s' "$GIT_SSH_COMMAND")"
    if ! runuser -u slogan-scheduler -- env GIT_SSH_COMMAND="$ssh_command" GIT_TERMINAL_PROMPT=0 \
      git clone --quiet --branch "$branch" "$git_url" "$state/campaign"; then
      echo >&2
      echo "The repository $git_url could not be cloned. If it is private, add this read-only deploy key to it" >&2
      echo "(GitHub: Settings > Deploy keys > Add deploy key, write access off; GitLab: Settings > Repository >" >&2
      echo "Deploy keys), then run this script again:" >&2
      echo >&2
      cat "$state/deploy_key.pub" >&2
      exit 1
    fi
  fi
fi
install -m 755 "$source_dir/deploy/slogan-scheduler" /usr/local/bin/slogan-scheduler
install -m 644 "$source_dir/deploy/slogan-scheduler.service" /etc/systemd/system/slogan-scheduler.service
slogan-scheduler validate
systemctl daemon-reload
systemctl enable --now slogan-scheduler
systemctl status --no-pager slogan-scheduler || true
