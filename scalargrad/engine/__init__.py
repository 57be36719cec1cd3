"""The engine: Values, the table of primitives, the chain rule. Standard library only
(``compile`` uses numpy for batches, imported when a batch is run).

Read in this order:

* ``primitives``: the table, one entry per operation: its forward rule and its local
  derivatives, written as text in the slides' notation;
* ``value``: ``Value``, a node, and the one function that makes a node from a table entry;
* ``autograd``: the topological order and the one chain-rule loop, and ``backward``;
* ``derivatives``: ``grad()``, derivatives as Values (``create_graph=True`` for higher ones);
* ``context``: ``no_grad`` and ``scope``, what new nodes are made under;
* ``gradcheck``: gradients against central finite differences;
* ``compile``: a graph traced once into straight-line Python, over floats or numpy batches;
* ``pickling``: saving and copying graphs of any depth;
* ``errors`` and ``checks``: the engine's error type and the argument checks everything shares.
"""
