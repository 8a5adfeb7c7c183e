"""Fail when the modules of postpay/ and wechat/ import each other in a circle, counting imports
inside functions (grimp, the graph import-linter builds, sees every import statement).

    .venv/bin/python tools/import_cycles.py        # run by `make lint` and .ci/run

Prints the number of modules and every circle found (a strongly connected component of the
module graph); exits 1 when there is one.
"""

import sys

import grimp


def circles(graph):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main():
    graph = grimp.build_graph("postpay", "wechat", include_external_packages=False)
    found = circles(graph)
    print("%d modules, %d import circle(s)" % (len(graph.modules), len(found)))
    for component in found:
        print("circle: " + " -> ".join(component))
    return 1 if found else 0


if __name__ == "__main__":
    sys.path.insert(0, ".")
    sys.exit(main())
