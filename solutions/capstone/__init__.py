"""The capstone: lab 01's sentiment service grown into a production service.

Every lab's piece is loaded from its reference notebook in ``solutions/`` through the
grader's loader (:mod:`solutions.capstone.labs`), never copied: validation and the error
format (lab 01), the exact cache with single-flight (lab 01), the semantic cache (lab 02),
the error boundary, fallbacks and circuit breaker (lab 03), the prices (lab 04) and the
monitor and Prometheus metrics (lab 05). What is new here is the wiring: a cost-aware
cascade, a Redis-backed shared cache, settings from the environment, JSON logs, health,
readiness, a live dashboard and graceful shutdown.

Serve it with ``python -m solutions.capstone`` (see ``docs/capstone.md``).
"""
