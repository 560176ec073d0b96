"""The log's per-epoch sample counts (throughput × time cost) are the training set's size, for a
size that is no multiple of the batch, in a first job, a warm-started one and a resumed one."""
from emulator.sample_data import make_classification_set
from tests.epoch_log import assert_epoch_samples
from tests.functional.image_classification.conftest import NUM_CLASSES, base_hp, rec_channels, tar_model

TRAIN = 40  # 3 batches of 16, the last one 8 images short


def test_every_epoch_counts_the_whole_training_set(run_ic, ic_data, tmp_path, caplog):
    data = dict(ic_data, train=make_classification_set(tmp_path / "train", NUM_CLASSES, TRAIN // NUM_CLASSES,
                                                        size=(32, 32), seed=7))
    hp = base_hp(epochs=3, num_training_samples=TRAIN)
    ckpt = tmp_path / "checkpoints"
    code, first = run_ic(hp, rec_channels(data), checkpoint=ckpt)
    assert code == 0, first.failure
    assert_epoch_samples(caplog.text, TRAIN, [0, 1, 2])

    caplog.clear()
    code, warm = run_ic(base_hp(epochs=2, num_training_samples=TRAIN),
                        rec_channels(data, tar_model(first.model, tmp_path / "model.tar.gz")))
    assert code == 0, warm.failure
    assert "Incremental training: initialising from" in caplog.text
    assert_epoch_samples(caplog.text, TRAIN, [0, 1])

    caplog.clear()
    code, resumed = run_ic(base_hp(epochs=5, num_training_samples=TRAIN), rec_channels(data), checkpoint=ckpt)
    assert code == 0, resumed.failure
    assert "3 epoch(s) already completed" in caplog.text
    assert_epoch_samples(caplog.text, TRAIN, [3, 4])
