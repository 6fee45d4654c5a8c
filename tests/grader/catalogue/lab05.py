# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 05: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

# --- the reference's texts that several entries edit ---------------------------------------------

INTERPOLATE = """    if i + 1 >= len(s):
        return float(s[-1])
    return float(s[i] + (s[i + 1] - s[i]) * (position - i))
"""

AGE = """        if self.max_age is not None:
            now = self.clock()
            while samples and now - samples[0][0] > self.max_age:
                samples.popleft()
"""

COOLING = """            if rule.last_fired is not None and at - rule.last_fired < rule.cooldown:
                continue  # cooling down: one incident, one alert
            rule.last_fired = at
"""

FIRE = """            alert = Alert(at, metric, judged, rule.message)
            self.alerts.append(alert)
            fired.append(alert)
"""

WINDOWED = """            if rule.window is not None:
                recent = self.window(metric)[-rule.window :]
                if len(recent) < rule.window:
                    continue  # too few values to judge a rate: one error in one request is not 100%
                judged = math.fsum(recent) / len(recent)
"""

EMPTY_SUMMARY = (
    """            return {"count": 0, "mean": None, "min": None, "max": None, "p50": None, "p95": None, "p99": None}"""
)

REQUESTS = (
    """        self.requests = Counter("llm_requests", "LLM requests", ["model", "outcome"], registry=self.registry)"""
)

MISTAKES = [
    # --- exercise 1: percentiles ---------------------------------------------------------------
    Submission(
        "nearest-rank",
        {INTERPOLATE: "    return float(s[min(len(s) - 1, int(q / 100 * len(s)))])\n"},
        ("05-percentile-fixed", "05-percentiles"),
        "nearest rank",
        "sorted(v)[int(q / 100 * n)], the usual shortcut",
    ),
    Submission(
        "rounded-rank",
        {INTERPOLATE: "    return float(s[round(position)])\n"},
        ("05-percentile-fixed", "05-percentiles"),
        "np.percentile",
        "rounds the position instead of interpolating",
    ),
    Submission(
        "position-q-times-n",
        {"    position = (len(s) - 1) * q / 100": "    position = len(s) * q / 100"},
        ("05-percentile-fixed", "05-percentiles"),
        "np.percentile",
        "position q / 100 * n instead of (n - 1) * q / 100",
    ),
    Submission(
        "exclusive-method",
        {"    position = (len(s) - 1) * q / 100": "    position = max(0.0, (len(s) + 1) * q / 100 - 1)"},
        ("05-percentile-fixed",),
        "exclusive",
        "statistics.quantiles' default 'exclusive' definition",
    ),
    Submission(
        "not-sorted",
        {"    s = sorted(values)": "    s = list(values)"},
        ("05-percentile-fixed", "05-percentiles"),
        "not sorted",
        "interpolates in the order the values came",
    ),
    Submission(
        "sorts-in-place",
        {"    s = sorted(values)": "    values.sort()\n    s = values"},
        ("05-percentile-fixed",),
        "in place",
        "list.sort() reorders the caller's list",
    ),
    Submission(
        "no-last-index-guard",
        {INTERPOLATE: "    return float(s[i] + (s[i + 1] - s[i]) * (position - i))\n"},
        ("05-percentile-fixed", "05-percentiles"),
        "IndexError",
        "q = 100 (or one value) reads past the end",
    ),
    Submission(
        "floor-division",
        {"    position = (len(s) - 1) * q / 100": "    position = (len(s) - 1) * q // 100"},
        ("05-percentile-fixed", "05-percentiles"),
        "np.percentile",
        "integer division loses the fraction: no interpolation",
    ),
    Submission(
        "fraction-not-percent",
        {'            "p95": percentile(values, 95),': '            "p95": percentile(values, 0.95),'},
        ("05-summary",),
        "percentile",
        "passes 0.95 to a function that takes 0-100",
    ),
    # --- exercise 2: the window and its summary -------------------------------------------------
    Submission(
        "empty-summary-count-only",
        {EMPTY_SUMMARY: '            return {"count": 0}'},
        ("05-summary",),
        "None",
        "an empty summary without the other keys",
    ),
    Submission(
        "empty-summary-zeros",
        {
            EMPTY_SUMMARY: '            return {"count": 0, "mean": 0.0, "min": 0.0, "max": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0}'
        },
        ("05-summary",),
        "None",
        "zeros look like real measurements",
    ),
    Submission(
        "median-key",
        {'            "p50": percentile(values, 50),': '            "median": percentile(values, 50),'},
        ("05-summary",),
        "keys",
        "names the p50 'median'",
    ),
    Submission(
        "mean-of-everything",
        {
            '            "mean": math.fsum(values) / len(values),': '            "mean": self.totals[metric] / len(values),'
        },
        ("05-window",),
        "window",
        "the mean of every value ever recorded, divided by the window's count",
    ),
    Submission(
        "ignores-at",
        {"        at = self.clock() if at is None else float(at)": "        at = self.clock()"},
        ("05-window", "05-cooldown"),
        "`at`",
        "records every value at the clock's time, ignoring at=",
    ),
    Submission(
        "no-totals",
        {"        self.totals[metric] += value\n": ""},
        ("05-window",),
        "totals",
        "never adds to self.totals",
    ),
    Submission(
        "evict-at-max-age",
        {
            "            while samples and now - samples[0][0] > self.max_age:": "            while samples and now - samples[0][0] >= self.max_age:"
        },
        ("05-window",),
        "exactly max_age",
        "a value exactly max_age old is dropped",
    ),
    Submission(
        "age-from-newest-value",
        {
            "            now = self.clock()\n            while samples": "            now = samples[-1][0]\n            while samples"
        },
        ("05-window",),
        "clock",
        "measures age from the newest value, so an idle metric never empties",
    ),
    Submission(
        "no-age-eviction",
        {AGE: ""},
        ("05-window",),
        "max_age",
        "the window is limited by count only, as in the handout",
    ),
    Submission(
        "window-newest-first",
        {"        return [value for _, value in samples]": "        return [value for _, value in reversed(samples)]"},
        ("05-window",),
        "oldest first",
        "returns the window newest first",
    ),
    # --- exercise 3: alerts -----------------------------------------------------------------------
    Submission(
        "no-cooldown",
        {COOLING: "            rule.last_fired = at\n"},
        ("05-cooldown", "05-alerts-generated"),
        "cooling down",
        "fires on every value that crosses the line: one page per request",
    ),
    Submission(
        "cooldown-inclusive",
        {"at - rule.last_fired < rule.cooldown:": "at - rule.last_fired <= rule.cooldown:"},
        ("05-cooldown",),
        "cooldown",
        "a value exactly cooldown seconds later does not fire",
    ),
    Submission(
        "cooldown-per-metric",
        {
            COOLING: """            last = [a.time for a in self.alerts if a.metric == metric]
            if last and at - last[-1] < rule.cooldown:
                continue
            rule.last_fired = at
"""
        },
        ("05-cooldown",),
        "should have fired",
        "one cooldown per metric: a rule is silenced by another rule's alert",
    ),
    Submission(
        "cooldown-on-clock",
        {
            COOLING: """            if rule.last_fired is not None and self.clock() - rule.last_fired < rule.cooldown:
                continue
            rule.last_fired = self.clock()
"""
        },
        ("05-cooldown",),
        "record's time",
        "times the cooldown with the clock, not with the record's at",
    ),
    Submission(
        "cooldown-restarts-on-hold",
        {
            COOLING: """            if rule.last_fired is not None and at - rule.last_fired < rule.cooldown:
                rule.last_fired = at
                continue
            rule.last_fired = at
"""
        },
        ("05-cooldown",),
        "should have fired",
        "every hold during the cooldown restarts it: a sustained incident alerts once, ever",
    ),
    Submission(
        "first-rule-only",
        {
            FIRE: """            alert = Alert(at, metric, judged, rule.message)
            self.alerts.append(alert)
            return [alert]
"""
        },
        ("05-alert",),
        "should have fired",
        "stops at the first rule that fires",
    ),
    Submission(
        "alert-time-from-clock",
        {
            "            alert = Alert(at, metric, judged, rule.message)": "            alert = Alert(self.clock(), metric, judged, rule.message)"
        },
        ("05-cooldown",),
        "time",
        "stamps alerts with the clock, not the record's time",
    ),
    Submission(
        "no-history",
        {"            self.alerts.append(alert)\n": ""},
        ("05-alert",),
        "should have fired",
        "returns alerts but keeps no history",
    ),
    Submission(
        "check-alerts-returns-none",
        {"            fired.append(alert)\n        return fired\n": "            fired.append(alert)\n"},
        ("05-alert",),
        "list",
        "forgets to return the alerts",
    ),
    Submission(
        "add-alert-drops-cooldown",
        {
            "        rule = Rule(metric, condition, message, cooldown, window)": "        rule = Rule(metric, condition, message)"
        },
        ("05-cooldown",),
        "cooldown",
        "every rule gets the default 300 s cooldown",
    ),
    Submission(
        "condition-inverted",
        {"            if not rule.condition(judged):": "            if rule.condition(judged):"},
        ("05-alert",),
        "fired",
        "fires when the condition does not hold",
    ),
    # --- stretch S1: rules over a window --------------------------------------------------------------
    Submission(
        "windowed-too-early",
        {
            "                if len(recent) < rule.window:\n                    continue  # too few values to judge a rate: one error in one request is not 100%\n": ""
        },
        ("05-windowed-rule",),
        "only once there are 5",
        "judges a rate of 1 error in 1 request",
    ),
    Submission(
        "windowed-reports-new-value",
        {
            "            alert = Alert(at, metric, judged, rule.message)": "            alert = Alert(at, metric, value, rule.message)"
        },
        ("05-windowed-rule",),
        "mean",
        "the alert shows 1.0, not the error rate",
    ),
    Submission(
        "windowed-whole-window",
        {
            "                recent = self.window(metric)[-rule.window :]": "                recent = self.window(metric)"
        },
        ("05-windowed-rule",),
        "last n",
        "the mean of the whole window, not of the last N",
    ),
    Submission(
        "windows-ignored",
        {WINDOWED: ""},
        ("05-windowed-rule",),
        "only once there are 5",
        "the core's rules only: an error rate rule fires on every error",
    ),
    # --- stretch S2: the export ---------------------------------------------------------------------------
    Submission(
        "spent-is-window-sum",
        {'            "spent": self.totals.get(COST, 0.0),': '            "spent": math.fsum(self.window(COST)),'},
        ("05-export",),
        "totals",
        "money leaves with the window",
    ),
    Submission(
        "alerts-not-dicts",
        {'            "alerts": [asdict(alert) for alert in self.alerts],': '            "alerts": list(self.alerts),'},
        ("05-export",),
        "asdict",
        "Alert objects in the export: json.dumps fails",
    ),
    Submission(
        "projection-per-day",
        {"per_request * requests_per_day * 30,": "per_request * requests_per_day,"},
        ("05-export",),
        "x 30",
        "projects a day, not a month",
    ),
    Submission(
        "trend-any-change",
        {
            '    direction = "up" if change > margin else "down" if change < -margin else "flat"': '    direction = "up" if change > 0 else "down" if change < 0 else "flat"'
        },
        ("05-export",),
        "0.1 * abs(older)",
        "any change at all is a trend",
    ),
    Submission(
        "trend-one-value",
        {"    if len(values) < 2:\n        return None\n": ""},
        ("05-export",),
        "ZeroDivisionError",
        "a window of one value divides by zero",
    ),
    Submission(
        "generated-at-wall-clock",
        {'            "generated_at": self.clock(),': '            "generated_at": time.time(),'},
        ("05-export",),
        "self.clock()",
        "the wall clock instead of the monitor's",
    ),
    Submission(
        "advice-without-minimum",
        {
            '        return summary if summary and summary["count"] >= MIN_SAMPLES else None': '        return summary if summary and summary["count"] > 0 else None'
        },
        ("05-recommendations",),
        "MIN_SAMPLES",
        "advises on 10 requests",
    ),
    Submission(
        "advice-at-threshold",
        {'hits["mean"] < CACHE_HIT_MIN:': 'hits["mean"] <= CACHE_HIT_MIN:'},
        ("05-recommendations",),
        "threshold exactly",
        "advises at exactly the threshold",
    ),
    Submission(
        "latency-advice-on-mean",
        {'latency["p95"] > LATENCY_P95_MAX_MS:': 'latency["mean"] > LATENCY_P95_MAX_MS:'},
        ("05-recommendations",),
        "latency_ms",
        "the mean hides the slow tail",
    ),
    Submission(
        "advice-without-the-fix",
        {
            '"advice": f"Cache hit rate is {hits[\'mean\']:.0%}: add a semantic cache "': '"advice": f"Cache hit rate is {hits[\'mean\']:.0%}: improve caching "'
        },
        ("05-recommendations",),
        "semantic cache",
        "advice that does not say what to do",
    ),
    Submission(
        "advice-missing-metric-crash",
        {"        summary = metrics.get(name)": "        summary = metrics[name]"},
        ("05-recommendations",),
        "KeyError",
        "a metric never recorded raises KeyError",
    ),
    # --- stretch S3: Prometheus -----------------------------------------------------------------------------
    Submission(
        "global-registry",
        {REQUESTS: '        self.requests = Counter("llm_requests", "LLM requests", ["model", "outcome"])'},
        ("05-prometheus",),
        "registry",
        "the default registry: a second instance fails with Duplicated timeseries",
    ),
    Submission(
        "default-buckets",
        {'["model"], buckets=LATENCY_BUCKETS,\n': '["model"],\n'},
        ("05-prometheus",),
        "buckets",
        "prometheus_client's default buckets",
    ),
    Submission(
        "raw-model-label",
        {"        label = model_label(model)": "        label = model"},
        ("05-cardinality", "05-prometheus"),
        "distinct values",
        "a label per fine-tuned model name: unbounded time series",
    ),
    Submission(
        "label-case-folded",
        {
            '    return model if model in KNOWN_MODELS else "other"': '    return model.lower() if model.lower() in KNOWN_MODELS else "other"'
        },
        ("05-cardinality",),
        "exact",
        "'GPT-4' is reported as gpt-4",
    ),
    Submission(
        "label-prefix-match",
        {
            '    return model if model in KNOWN_MODELS else "other"': '    return model if model.startswith(KNOWN_MODELS) else "other"'
        },
        ("05-cardinality",),
        "exact",
        "every dated or suffixed variant becomes its own label value",
    ),
    Submission(
        "cache-label-inverted",
        {'result="hit" if cache_hit else "miss"': 'result="miss" if cache_hit else "hit"'},
        ("05-prometheus",),
        "hit",
        "counts hits as misses",
    ),
    Submission(
        "cost-counted-as-calls",
        {"        self.cost.labels(model=label).inc(cost)": "        self.cost.labels(model=label).inc()"},
        ("05-prometheus",),
        "dollars",
        "counts requests in the dollar counter",
    ),
    Submission(
        "latency-in-milliseconds",
        {
            "        self.latency.labels(model=label).observe(latency_seconds)": "        self.latency.labels(model=label).observe(latency_seconds * 1000)"
        },
        ("05-prometheus",),
        "wrong value",
        "observes milliseconds in a histogram of seconds",
    ),
    Submission(
        "outcome-success-failure",
        {'outcome="ok" if ok else "error"': 'outcome="success" if ok else "failure"'},
        ("05-prometheus",),
        "outcome",
        "label values other than the table's",
    ),
]

ALTERNATIVES = [
    Submission(
        "percentile-numpy",
        {
            "    s = sorted(values)\n    position = (len(s) - 1) * q / 100\n    i = math.floor(position)\n"
            + INTERPOLATE: ("    import numpy as np\n\n    return float(np.percentile(values, q))\n")
        },
        why="numpy's own percentile",
    ),
    Submission(
        "percentile-weighted-sum",
        {
            "    return float(s[i] + (s[i + 1] - s[i]) * (position - i))": (
                "    f = position - i\n    return float(s[i] * (1 - f) + s[i + 1] * f)"
            )
        },
        why="interpolation as a weighted sum of the two neighbours",
    ),
    Submission(
        "window-rebuilt",
        {
            AGE: """        if self.max_age is not None:
            now = self.clock()
            kept = [(t, v) for t, v in samples if now - t <= self.max_age]
            samples.clear()
            samples.extend(kept)
"""
        },
        why="filters the window with a comprehension instead of popping from the left",
    ),
    Submission(
        "summary-numpy",
        {
            """        return {
            "count": len(values),
            "mean": math.fsum(values) / len(values),
            "min": min(values),
            "max": max(values),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
        }""": """        import numpy as np

        array = np.asarray(values)
        p50, p95, p99 = np.percentile(array, [50, 95, 99])
        return {"count": len(values), "mean": float(array.mean()), "min": float(array.min()), "max": float(array.max()),
                "p50": float(p50), "p95": float(p95), "p99": float(p99)}"""
        },
        why="the whole summary from one numpy array",
    ),
    Submission(
        "cooldown-dict",
        {
            COOLING: """            last = self.__dict__.setdefault("_last_fired", {}).get(id(rule))
            if last is not None and at - last < rule.cooldown:
                continue
            self._last_fired[id(rule)] = at
"""
        },
        why="keeps the last firing per rule in a dict on the monitor, not on the rule",
    ),
    Submission(
        "windowed-fmean",
        {
            "                judged = math.fsum(recent) / len(recent)": "                import statistics\n\n                judged = statistics.fmean(recent)"
        },
        why="statistics.fmean for the window's mean",
    ),
    Submission(
        "alerts-by-hand",
        {
            '            "alerts": [asdict(alert) for alert in self.alerts],': (
                '            "alerts": [{"time": a.time, "metric": a.metric, "value": a.value, "message": a.message} for a in self.alerts],'
            )
        },
        why="writes each alert's dict by hand instead of asdict",
    ),
    Submission(
        "counter-named-total",
        {
            REQUESTS: '        self.requests = Counter("llm_requests_total", "LLM requests", ["model", "outcome"], registry=self.registry)'
        },
        why="prometheus_client strips a counter's _total suffix: the same exposition",
    ),
    Submission(
        "label-lookup-table",
        {
            '    return model if model in KNOWN_MODELS else "other"': '    return {m: m for m in KNOWN_MODELS}.get(model, "other")'
        },
        why="a lookup table for the allowed label values",
    ),
    Submission(
        "trend-statistics",
        {
            "    older = math.fsum(values[:half]) / half\n    newer = math.fsum(values[half:]) / (len(values) - half)": (
                "    import statistics\n\n    older, newer = statistics.fmean(values[:half]), statistics.fmean(values[half:])"
            )
        },
        why="statistics.fmean for each half",
    ),
]
