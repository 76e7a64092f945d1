r"""Data: the `InteractionData` container, loaders, HeteroData conversion, synthetic data.

Examples:
    >>> from pyg_negdiff.data import make_synthetic, to_hetero, from_hetero
    >>> data = make_synthetic(num_users=100, num_items=80, seed=0)
    >>> back = from_hetero(to_hetero(data))
    >>> bool((back.train == data.train).all())
    True
"""

from pyg_negdiff.data.graph import bipartite_edge_index, gcn_adjacency
from pyg_negdiff.data.folders import SplitFiles, split_files
from pyg_negdiff.data.hetero import from_hetero, to_hetero
from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.io import (
    default_data_root,
    load_builtin,
    load_csv,
    load_dataset,
    load_lightgcn,
    load_pairs,
    load_recbole,
    sniff_format,
)
from pyg_negdiff.data.layout import AmbiguousFormatError, Layout, MalformedLineError, detect_layout
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.data.pyg_datasets import DatasetUnavailableError, load_pyg_dataset
from pyg_negdiff.data.synthetic import SyntheticTruth, false_negative_share, make_synthetic

__all__ = [
    # container and lookups
    "InteractionData",
    "DataValidationError",
    "PairSet",
    # graph
    "bipartite_edge_index",
    "gcn_adjacency",
    # loaders
    "load_dataset",
    "load_builtin",
    "load_lightgcn",
    "load_pairs",
    "load_recbole",
    "load_csv",
    "sniff_format",
    "default_data_root",
    "detect_layout",
    "Layout",
    "split_files",
    "SplitFiles",
    "load_pyg_dataset",
    # what bad input raises
    "AmbiguousFormatError",
    "MalformedLineError",
    "DatasetUnavailableError",
    # PyG HeteroData
    "to_hetero",
    "from_hetero",
    # synthetic data
    "make_synthetic",
    "SyntheticTruth",
    "false_negative_share",
]

# shift splits and their diagnostics
from pyg_negdiff.data.diagnostics import (  # noqa: E402
    GROUP_NAMES,
    ShiftReport,
    interaction_groups,
    item_groups,
    plot_popularity,
    shift_report,
)
from pyg_negdiff.data.splits import (  # noqa: E402
    carve_validation,
    split_exposure,
    split_mixed,
    split_popularity,
    split_random,
    split_temporal,
)

__all__ += [
    "split_random",
    "split_popularity",
    "split_temporal",
    "split_exposure",
    "split_mixed",
    "carve_validation",
    "shift_report",
    "ShiftReport",
    "item_groups",
    "interaction_groups",
    "GROUP_NAMES",
    "plot_popularity",
]
