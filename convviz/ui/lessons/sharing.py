"""Parameter sharing in the inspector: a conv block's parameters with sharing and what the same layer
would need with one set of weights per neuron (model.sharing), in the notes' words."""
from __future__ import annotations

from ...model.inference import BlockInfo
from ...model.sharing import parameter_sharing


def sharing_html(info: BlockInfo | None) -> str:
    """The lesson with the block's numbers as rich text; "" for a block that slides no filters."""
    sharing = parameter_sharing(info) if info is not None else None
    if sharing is None:
        return ""
    without, with_ = sharing.sentences()
    return (f"<p><b>Parameter sharing</b>: <b>{sharing.shared:,}</b> parameters instead of "
            f"<b>{sharing.unshared:,}</b>.</p><p>{without}</p><p>{with_}</p>")
