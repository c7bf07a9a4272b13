"""Template for a lifecycle app's authorization-matrix entries (files starting with _ are skipped).

    def register(m):
        m.api_case(
            "POST /api/v1/purchase-orders",
            m.only(("procurement", "admin"), 201),
            body={"supplier_id": "{supplier_id}", "lines": []},
        )
        m.add("/procurement/", m.Case("GET", "/procurement/", m.expect(302, 200, 403),
              session=True))

    def build(w, users, values):  # optional: objects the URLs above refer to
        return {"supplier_id": w.supplier.pk}

``w`` is ``medtrace.trace.tests.factories.world()`` (maker, supplier, distributor, hospital,
locations, products device/board, materials resin/pump) as built for the matrix; ``users`` maps
each persona to its user; ``values`` holds the world values built so far.
"""
