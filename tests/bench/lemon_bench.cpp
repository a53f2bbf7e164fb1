// lemon_bench: solves an assignment instance in the format of
// ../shared/bench/gen_assignment_instance.py with LEMON's NetworkSimplex and
// CostScaling, as the reference the planner (plan_bench) is compared with.
//
//   lemon_bench INSTANCE [REPEAT=3] [GRAPH=static|smart]
//
// Network (supply/demand form, the same model as siaod's planner: maximise
// the total score, each person at most one place, each offer at most its
// capacity, people may stay unplaced):
//   person p: supply +1          offer o: supply 0          sink: supply -people
//   p -> o     cap 1         cost -score   (one arc per eligible pair)
//   p -> sink  cap 1         cost 0        ("no place")
//   o -> sink  cap capacity  cost 0
// Every person sends exactly one unit, through an offer or straight to the
// sink, so a feasible flow is exactly a placement and min cost = -max score.
//
// Timed separately, best of REPEAT: build (the digraph and its arc maps from
// the parsed edge list; not the parsing), and for each algorithm the solve
// (constructing the algorithm object, setting its maps, run()).
//
// Prints one line:
//   people=.. offers=.. places=.. edges=.. build_ms=..
//   ns_total=.. ns_assigned=.. ns_ms=.. cs_total=.. cs_assigned=.. cs_ms=..
// Exit 1 if a run is not OPTIMAL, the two optima differ, or a flow breaks a
// constraint (checked on the flows themselves, not only on the cost).
#include <lemon/cost_scaling.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>
#include <lemon/static_graph.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace lemon;

typedef int Value;
typedef int Cost;  // scores are small; LEMON's CostScaling uses long long internally for int

static double now_ms()
{
	return std::chrono::duration<double, std::milli>(
	           std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}

struct Instance {
	int people = 0, offers = 0;
	long nedges = 0;
	std::vector<int> cap;
	std::vector<int> ep, eo, es;  // person, offer, score
};

static bool read_instance(const char *path, Instance &in)
{
	FILE *f = std::fopen(path, "r");
	if (!f) {
		std::perror(path);
		return false;
	}
	if (std::fscanf(f, "%d %d %ld", &in.people, &in.offers, &in.nedges) != 3)
		return false;
	in.cap.resize(in.offers);
	for (int j = 0; j < in.offers; j++)
		if (std::fscanf(f, "%d", &in.cap[j]) != 1)
			return false;
	in.ep.resize(in.nedges);
	in.eo.resize(in.nedges);
	in.es.resize(in.nedges);
	for (long e = 0; e < in.nedges; e++) {
		if (std::fscanf(f, "%d %d %d", &in.ep[e], &in.eo[e], &in.es[e]) != 3)
			return false;
		if (in.ep[e] < 0 || in.ep[e] >= in.people || in.eo[e] < 0 || in.eo[e] >= in.offers)
			return false;
	}
	std::fclose(f);
	return true;
}

struct Outcome {
	long long total = 0;
	long assigned = 0;
	double best_ms = 1e18;
	bool ok = true;
};

// Graph + maps for one digraph type. Node ids: people 0..P-1, offers P..P+O-1, sink P+O.
// Arc ids: pair arcs 0..E-1 (in file order), then P "no place" arcs, then O offer->sink arcs.
template <typename GR>
struct Net {
	GR g;
	typename GR::template NodeMap<Value> *supply = nullptr;
	typename GR::template ArcMap<Value> *cap = nullptr;
	typename GR::template ArcMap<Cost> *cost = nullptr;
	~Net()
	{
		delete supply;
		delete cap;
		delete cost;
	}
};

static void build_arcs(const Instance &in, SmartDigraph &g)
{
	int n = in.people + in.offers + 1;
	g.reserveNode(n);
	g.reserveArc((int)in.nedges + in.people + in.offers);
	for (int i = 0; i < n; i++)
		g.addNode();
	for (long e = 0; e < in.nedges; e++)
		g.addArc(g.nodeFromId(in.ep[e]), g.nodeFromId(in.people + in.eo[e]));
	int sink = in.people + in.offers;
	for (int p = 0; p < in.people; p++)
		g.addArc(g.nodeFromId(p), g.nodeFromId(sink));
	for (int o = 0; o < in.offers; o++)
		g.addArc(g.nodeFromId(in.people + o), g.nodeFromId(sink));
}

// StaticDigraph wants the arcs sorted by source; keep a permutation back to
// the arc ids above so the maps are filled the same way.
static void build_arcs(const Instance &in, StaticDigraph &g, std::vector<int> &arc_of)
{
	int n = in.people + in.offers + 1, sink = n - 1;
	long m = in.nedges + in.people + in.offers;
	std::vector<std::pair<int, int>> arcs;
	arcs.reserve(m);
	std::vector<int> order;
	order.reserve(m);
	// people in order (the file is sorted by person; sort defensively by counting)
	std::vector<long> start(in.people + 1, 0);
	for (long e = 0; e < in.nedges; e++)
		start[in.ep[e] + 1]++;
	for (int p = 0; p < in.people; p++)
		start[p + 1] += start[p];
	std::vector<long> byp(in.nedges), fill(start.begin(), start.end() - 1);
	for (long e = 0; e < in.nedges; e++)
		byp[fill[in.ep[e]]++] = e;
	for (int p = 0; p < in.people; p++) {
		for (long k = start[p]; k < start[p + 1]; k++) {
			long e = byp[k];
			arcs.push_back({p, in.people + in.eo[e]});
			order.push_back((int)e);
		}
		arcs.push_back({p, sink});
		order.push_back((int)(in.nedges + p));
	}
	for (int o = 0; o < in.offers; o++) {
		arcs.push_back({in.people + o, sink});
		order.push_back((int)(in.nedges + in.people + o));
	}
	g.build(n, arcs.begin(), arcs.end());
	arc_of.assign(m, 0);  // arc_of[logical id] = static arc id
	for (long k = 0; k < m; k++)
		arc_of[order[k]] = (int)k;
}

template <typename GR>
static void fill_maps(const Instance &in, Net<GR> &net, const std::vector<int> *arc_of)
{
	GR &g = net.g;
	net.supply = new typename GR::template NodeMap<Value>(g, 0);
	net.cap = new typename GR::template ArcMap<Value>(g, 1);
	net.cost = new typename GR::template ArcMap<Cost>(g, 0);
	auto A = [&](long logical) { return g.arcFromId(arc_of ? (*arc_of)[logical] : (int)logical); };
	for (int p = 0; p < in.people; p++)
		(*net.supply)[g.nodeFromId(p)] = 1;
	(*net.supply)[g.nodeFromId(in.people + in.offers)] = -in.people;
	for (long e = 0; e < in.nedges; e++)
		(*net.cost)[A(e)] = -in.es[e];
	for (int o = 0; o < in.offers; o++)
		(*net.cap)[A(in.nedges + in.people + o)] = in.cap[o] < 0 ? 0 : in.cap[o];
}

// Checks the flow: each person sends exactly 1 (at most one offer), each
// offer within capacity, and recomputes the score from the pair arcs.
template <typename GR, typename Alg>
static bool check_flow(const Instance &in, const Net<GR> &net, const Alg &alg,
                       const std::vector<int> *arc_of, long long &total, long &assigned)
{
	const GR &g = net.g;
	auto A = [&](long logical) { return g.arcFromId(arc_of ? (*arc_of)[logical] : (int)logical); };
	std::vector<int> out(in.people, 0), load(in.offers, 0);
	total = 0;
	assigned = 0;
	for (long e = 0; e < in.nedges; e++) {
		Value f = alg.flow(A(e));
		if (f < 0 || f > 1)
			return false;
		if (f) {
			out[in.ep[e]]++;
			load[in.eo[e]]++;
			total += in.es[e];
			assigned++;
		}
	}
	for (int p = 0; p < in.people; p++)
		if (out[p] + alg.flow(A(in.nedges + p)) != 1)
			return false;
	for (int o = 0; o < in.offers; o++)
		if (load[o] > in.cap[o] || alg.flow(A(in.nedges + in.people + o)) != load[o])
			return false;
	return true;
}

template <typename GR>
static int bench(const Instance &in, int repeat, const char *gname)
{
	double build_best = 1e18;
	Net<GR> *net = nullptr;
	std::vector<int> arc_of;
	for (int k = 0; k < repeat; k++) {
		delete net;
		double t0 = now_ms();
		net = new Net<GR>;
		if constexpr (std::is_same<GR, StaticDigraph>::value)
			build_arcs(in, net->g, arc_of);
		else
			build_arcs(in, net->g);
		fill_maps(in, *net, arc_of.empty() ? nullptr : &arc_of);
		double t = now_ms() - t0;
		if (t < build_best)
			build_best = t;
	}
	const std::vector<int> *perm = arc_of.empty() ? nullptr : &arc_of;

	Outcome ns, cs;
	for (int k = 0; k < repeat; k++) {
		double t0 = now_ms();
		NetworkSimplex<GR, Value, Cost> alg(net->g);
		alg.upperMap(*net->cap).costMap(*net->cost).supplyMap(*net->supply);
		auto rc = alg.run();
		double t = now_ms() - t0;
		if (t < ns.best_ms)
			ns.best_ms = t;
		long long tot = 0;
		long as = 0;
		if (rc != NetworkSimplex<GR, Value, Cost>::OPTIMAL ||
		    !check_flow(in, *net, alg, perm, tot, as) || -alg.template totalCost<long long>() != tot) {
			ns.ok = false;
		}
		ns.total = tot;
		ns.assigned = as;
	}
	for (int k = 0; k < repeat; k++) {
		double t0 = now_ms();
		CostScaling<GR, Value, Cost> alg(net->g);
		alg.upperMap(*net->cap).costMap(*net->cost).supplyMap(*net->supply);
		auto rc = alg.run();
		double t = now_ms() - t0;
		if (t < cs.best_ms)
			cs.best_ms = t;
		long long tot = 0;
		long as = 0;
		if (rc != CostScaling<GR, Value, Cost>::OPTIMAL ||
		    !check_flow(in, *net, alg, perm, tot, as) || -alg.template totalCost<long long>() != tot) {
			cs.ok = false;
		}
		cs.total = tot;
		cs.assigned = as;
	}
	delete net;

	long places = 0;
	for (int c : in.cap)
		places += c;
	std::printf("graph=%s people=%d offers=%d places=%ld edges=%ld build_ms=%.1f "
	            "ns_total=%lld ns_assigned=%ld ns_ms=%.1f cs_total=%lld cs_assigned=%ld cs_ms=%.1f\n",
	            gname, in.people, in.offers, places, in.nedges, build_best, ns.total, ns.assigned,
	            ns.best_ms, cs.total, cs.assigned, cs.best_ms);
	if (!ns.ok || !cs.ok) {
		std::fprintf(stderr, "lemon_bench: %s%s\n", ns.ok ? "" : "NetworkSimplex flow invalid ",
		             cs.ok ? "" : "CostScaling flow invalid");
		return 1;
	}
	if (ns.total != cs.total) {
		std::fprintf(stderr, "lemon_bench: NetworkSimplex %lld != CostScaling %lld\n", ns.total,
		             cs.total);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::fprintf(stderr, "usage: lemon_bench INSTANCE [REPEAT=3] [GRAPH=static|smart]\n");
		return 2;
	}
	int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
	if (repeat < 1)
		repeat = 1;
	std::string gname = argc > 3 ? argv[3] : "static";
	Instance in;
	if (!read_instance(argv[1], in)) {
		std::fprintf(stderr, "lemon_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	if (gname == "smart")
		return bench<SmartDigraph>(in, repeat, "smart");
	if (gname == "static")
		return bench<StaticDigraph>(in, repeat, "static");
	std::fprintf(stderr, "lemon_bench: unknown graph %s\n", gname.c_str());
	return 2;
}
