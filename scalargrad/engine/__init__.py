"""The engine: Values, the table of primitives, the chain rule. Standard library only.

* ``primitives``: the table, one entry per operation (forward rule, local-derivative rule);
* ``value``: ``Value``, a node, and the one function that makes a node from a table entry;
* ``autograd``: the topological order and the one chain-rule loop (``backward``, ``grad``);
* ``context``: ``no_grad`` and ``scope``, what new nodes are made under;
* ``gradcheck``: gradients against central finite differences.
"""
