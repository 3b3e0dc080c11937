"""`mim train dfvt_mm` and `mim test dfvt_mm` in the README's environment: mim finds the package,
its tools and (by name) its configs, and runs them."""

from dfvt_mm.toy import write_classification

from .conftest import last_metric, run_tool


def test_mim_train_and_test_run_the_package_tools(tmp_path, mim):
    # the toy config's relative data root, under the folder the commands run in
    data = tmp_path / 'data' / 'toy_imagenet'
    write_classification(str(data), train_per_class=4, val_per_class=2)
    options = [
        'train_cfg.max_epochs=3',  # the toy cosine decay starts at epoch 2
        'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3',
        'train_dataloader.batch_size=10',
    ]
    log = run_tool(
        [*mim, 'train', 'dfvt_mm', 'dfvt_t_toy_in1k.py', '--work-dir', 'run']
        + ['--cfg-options', *options],
        cwd=tmp_path,
    )
    assert 'we find the config file in codebase dfvt_mm' in log  # found by name
    assert (tmp_path / 'run' / 'epoch_3.pth').is_file()
    log = run_tool(
        [
            *mim,
            'test',
            'dfvt_mm',
            'dfvt_t_toy_in1k.py',
            '--checkpoint',
            str(tmp_path / 'run' / 'epoch_3.pth'),
            '--work-dir',
            'eval',
        ],
        cwd=tmp_path,
    )
    assert 0.0 <= last_metric(log, 'accuracy/top1') <= 100.0
