# One command each, on a fresh machine (Python 3.11 + pip + gcc): they create .venv and install what is missing.
#   make demo   - the main job: train cpu_lite0 on the built-in synthetic data, predict, evaluate vs baselines
#   make test   - ruff + the CPU test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml setup.py $(wildcard baiseg/postprocess/native/*)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,sam,onnx,tb]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/baiseg demo

lint: $(STAMP)
	$(VENV)/bin/ruff check baiseg tests bench

test: lint
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_model.py --presets cpu_lite0 --threads 2 --repeats 5
	$(PY) bench/bench_mep.py --images 20 --repeats 3 --sizes 500x375 --json docs/results/speed_mep.json
	$(PY) bench/bench_predict.py --threads 2 --out docs/results/speed_predict.json
	$(PY) bench/int8_quality.py --out docs/results/int8_quality.json
	$(PY) bench/max_side.py --part quality --out docs/results/speed_max_side.json
	$(PY) bench/max_side.py --part speed --threads 2 --out docs/results/speed_max_side.json
	W=runs/ablations/tables45/runs/r-4-dim-16_s0-001/last.safetensors; if [ -f $$W ]; then $(PY) bench/bench_predict.py --threads 2 --coco-weights none --pf-weights $$W --out docs/results/speed_pf_dim16.json; fi
	W=runs/ablations/table3/runs/ppc_s0-001/last.safetensors; if [ -f $$W ]; then $(PY) bench/bench_predict.py --threads 2 --coco-weights none --pf-weights $$W --out docs/results/speed_pf_dim32.json; fi
	W=runs/refine/rcnn_pennfudan_baiseg_s0-001/last.safetensors; if [ -f $$W ]; then $(PY) bench/bench_rcnn.py --weights $$W --threads 2 --images 10 --repeats 3 --out docs/results/speed_rcnn.json; fi

clean-venv:
	rm -rf $(VENV)
