from .hooks import ProgressHook

__all__ = ['ProgressHook']
