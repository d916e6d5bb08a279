"""(d) FER+'s four training modes on FaceNet features (frozen, or fine-tuned with ``--finetuned``).

The same head (the best Keras head of ``transfer_frozen.json``) is trained on the train part's
FER+ targets in each mode of {cite}`barsoum2016training` (majority, probability: one-hot targets
drawn from the vote distribution anew each epoch, crossentropy: the distribution as soft target,
multi_target: FERPlus' multi-target loss), with early stopping on the holdout's targets of the same
mode. Scored on the FER+ majority labels of PublicTest (8 classes). Rows each mode's rules drop
are counted. Writes ``transfer_ferplus_modes.json``.
"""
from __future__ import annotations

import argparse
import os

import transfer_common as tc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tc.add_feature_args(ap)
    tc.use_features(ap.parse_args().finetuned)
    from emolib.data.ferplus import MODES
    from emolib.evaluate import provenance, write_result
    from emolib.models.ferplus_training import (
        ferplus_loss,
        head_classes,
        majority_labels,
        training_targets,
    )

    head = tc.chosen_head()
    total = tc.timer()
    ds, _fer_path, votes_path = tc.load_data()
    (train, hold, test), (x_tr, x_ho, x_te), flip = tc.facenet_split_features(ds)
    classes = head_classes("ferplus")
    k = len(classes)
    te_idx, te_y = majority_labels(ds.votes[test])
    ho_idx, ho_y = majority_labels(ds.votes[hold])
    result = {"task": f"FER+ 8 classes: four training modes, head on {tc.facenet_word()} FaceNet features",
              "head": head, "head_chosen_by": "TRANSFER_HEAD" if os.environ.get("TRANSFER_HEAD") else
              "best holdout accuracy among Keras heads in transfer_frozen.json",
              **tc.base_result(ds, train, hold), "classes": list(classes),
              "evaluation": {"labels": "FER+ majority labels of PublicTest", "n_public_test": len(test),
                             "n_scored": len(te_idx), "dropped": int(len(test) - len(te_idx))},
              "early_stopping_on": "the holdout rows' targets of the same mode and that mode's loss",
              "modes": {}}
    for mode in MODES:
        tr = training_targets(ds.votes[train], mode)
        ho = training_targets(ds.votes[hold], mode)
        h, rec = tc.train_keras_head(head, x_tr[tr.index], tr.targets, x_ho[ho.index], ho.targets, k,
                                     loss=ferplus_loss(mode), sample_targets=(mode == "probability"))
        p_ho = h.predict_proba(x_ho[ho_idx])
        rec["holdout_majority_accuracy"] = round(float((p_ho.argmax(1) == ho_y).mean()), 4)
        use_tta = False
        if flip[0] is not None:
            tta = ((p_ho + h.predict_proba(flip[0][ho_idx])) / 2).argmax(1)
            rec["holdout_majority_accuracy_flip_tta"] = round(float((tta == ho_y).mean()), 4)
            use_tta = rec["holdout_majority_accuracy_flip_tta"] > rec["holdout_majority_accuracy"]
        p = h.predict_proba(x_te[te_idx])
        if use_tta:
            p = (p + h.predict_proba(flip[1][te_idx])) / 2
        rec.update(use_flip_tta=use_tta, n_train_kept=len(tr), n_train_dropped=int(len(train) - len(tr)),
                   n_holdout_kept=len(ho), PublicTest=tc.summary(te_y, p.argmax(1), classes))
        result["modes"][mode] = rec
        print(mode, rec["PublicTest"]["accuracy"], rec["PublicTest"]["macro_f1"], rec["stopped_by"], flush=True)
    result["all_converged"] = all(r["converged"] for r in result["modes"].values())
    path = write_result("transfer_ferplus_modes", result, provenance(votes_path, profile="local", wall_time_s=total()))
    print(path)


if __name__ == "__main__":
    main()
