# The README's two commands: `make run` and `make test`. Each builds .venv as needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run effective test lint unit bench bench-daemon bench-enforce clean format

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

SCRATCH ?= $(CURDIR)/.run
PORT ?= 29025
MODE ?= observe

# The daemon in the foreground on a scratch copy of the demo tree (Ctrl-C stops it).
run: $(STAMP)
	@rm -rf $(SCRATCH) && mkdir -p $(SCRATCH)
	@cp -a demo $(SCRATCH)/root
	@chmod 600 $(SCRATCH)/root/etc/pki/tls/private/postfix.key $(SCRATCH)/root/etc/pki/dovecot/private/dovecot.pem
	@printf 'policy_dir: null\nstate_dir: $(SCRATCH)/state\nhost_facts: $(CURDIR)/demo/host-facts.yaml\nmetrics: {listen: "127.0.0.1:$(PORT)"}\nmode: $(MODE)\n' > $(SCRATCH)/maildrift.yaml
	@# The demo tree has no Postfix or Dovecot behind it: nothing to validate or reload.
	@printf 'enforce: {validate: false, reload_commands: {postfix: [/bin/true], dovecot: [/bin/true]}}\n' >> $(SCRATCH)/maildrift.yaml
	@echo "maildrift watches $(SCRATCH)/root; metrics on http://127.0.0.1:$(PORT)/metrics"
	@echo "Try an unsafe edit in another shell, then watch the metric flip:"
	@echo "  sed -i 's/^    noplaintext$$/    mutual_auth/' $(SCRATCH)/root/etc/postfix/main.cf"
	@echo "  curl -s 127.0.0.1:$(PORT)/metrics | grep 'rule_compliant.*sasl-security-options'"
	@echo "With 'make run MODE=enforce' the edit is put back within milliseconds (mode now: $(MODE))."
	$(VENV)/bin/maildrift run --config $(SCRATCH)/maildrift.yaml --root $(SCRATCH)/root

# The effective configuration of the demo tree, as postconf -n and doveconf -n show it.
effective: $(STAMP)
	$(VENV)/bin/maildrift effective postfix --root demo --host-facts demo/host-facts.yaml
	$(VENV)/bin/maildrift effective dovecot --root demo

lint: $(STAMP)
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/ruff format --check daemon tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format daemon tests bench
	$(VENV)/bin/ruff check --fix daemon tests bench

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The pure tests only (no real services), for the per-Python runs in .ci/run.
unit: $(STAMP)
	$(PY) -m pytest -q -m "not services" $(PYTEST_ARGS)

# Model and check figures; bench-daemon adds latency, idle CPU and RSS (about 6 minutes).
bench: $(STAMP)
	$(PY) bench/run.py

bench-daemon: $(STAMP)
	$(PY) bench/daemon_latency.py

# Enforce mode's unsafe window over 1,000 reverts, validation and reload on a private
# Postfix + Dovecot (needs root), and where the window goes (about 4 minutes).
bench-enforce: $(STAMP)
	$(PY) bench/enforce_window.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
