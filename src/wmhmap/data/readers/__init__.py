"""Dataset readers: each turns one dataset layout into a manifest table with absolute paths.

``wmhmap-prepare data=<name> data.root=/path`` builds the reader named in ``conf/data/<name>.yaml``
and writes its table with :func:`wmhmap.data.manifest.write_manifest`.
"""

from wmhmap.data.readers.adni import read_adni
from wmhmap.data.readers.bids import read_bids
from wmhmap.data.readers.folder import read_folder
from wmhmap.data.readers.wmh2017 import read_wmh2017

__all__ = ["read_adni", "read_bids", "read_folder", "read_wmh2017"]
