"""Pictures of a Value graph: DOT text (``drawing``), SVG/PNG/PDF (``render``), the ``Picture``
object (``picture``) and backprop step by step (``steps``, with its page template ``steps.html``)."""
