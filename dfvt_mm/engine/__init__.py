"""What runs training and evaluation: loading a config so that it runs here (``runner``) and the
package's mmengine hooks (``hooks``, registered in mmengine's root ``HOOKS``)."""

from .hooks import ProgressHook
from .runner import build_runner, load_config, prepare_config

__all__ = ['ProgressHook', 'build_runner', 'load_config', 'prepare_config']
