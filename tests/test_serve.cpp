// `seqgrad serve` over HTTP: the built binary is started on a free local port (--port 0, the port read
// from its first line), asked good and bad requests by a cpp-httplib client, and stopped with SIGTERM.
// Every wait is bounded; the server is killed if the test fails half-way.
#ifdef SEQGRAD_HAVE_HTTPLIB
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "model_helpers.h"
#include "models/fileio.h"
#include "models/translator.h"
#include "process_helpers.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

// The server process: killed (SIGKILL) and reaped on destruction unless stop() reaped it already.
struct Server {
    pid_t pid = -1;
    std::string out, err;
    ~Server() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    // SIGTERM, then the exit code (waits at most 20 s; -1 if it had to be killed).
    int stop() {
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 400; ++i) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return -1;
    }
};

void start(Server& s, std::vector<std::string> args, const fs::path& dir, const std::string& name) {
    s.out = (dir / (name + ".out")).string();
    s.err = (dir / (name + ".err")).string();
    args.insert(args.begin(), seqgrad::testing::seqgrad_binary());
    s.pid = seqgrad::testing::spawn_program(std::move(args), s.out, s.err);
}

// The port of "listening on http://127.0.0.1:PORT", waiting at most 60 s; 0 if the server ended first.
int wait_for_port(Server& s) {
    const std::regex listening(R"(listening on http://[^:]+:(\d+))");
    for (int i = 0; i < 1200; ++i) {
        std::smatch m;
        const std::string text = fs::exists(s.out) ? read_file(s.out) : "";
        if (std::regex_search(text, m, listening)) return std::stoi(m[1]);
        int status = 0;
        if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
            s.pid = -1;
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
}

std::string one_epoch_model(const seqgrad::testing::TempDir& dir) {
    const std::string corpus = seqgrad::testing::write_digit_corpus(dir / "corpus.tsv", 120, 11, 2, 5);
    const models::TrainOptions o = seqgrad::testing::small_run(corpus, dir / "model", 16, 16, 1, 10);
    seqgrad::testing::train_quietly(o);
    return o.out_dir;
}

}  // namespace

TEST_CASE("serve: translates POSTed JSON on a free local port, refuses bad requests with 400, stops on SIGTERM",
          "[serve][cli]") {
    seqgrad::testing::TempDir dir("serve");
    const std::string model = one_epoch_model(dir);
    Server server;
    start(server, {"serve", "--model", model, "--port", "0", "--max-body", "2000", "--max-sentences", "4"}, dir.path, "a");
    const int port = wait_for_port(server);
    INFO("stdout: " << read_file(server.out) << "\nstderr: " << read_file(server.err));
    REQUIRE(port > 0);
    CHECK_THAT(read_file(server.out), Catch::StartsWith("seqgrad serve: listening on http://127.0.0.1:"));

    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(10);
    client.set_read_timeout(30);

    auto health = client.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(nlohmann::json::parse(health->body)["status"] == "ok");

    // A good request: the same translations as the library gives, in order.
    const models::Translator t = models::Translator::load(model);
    auto good = client.Post("/translate", R"({"sentences": ["1 2 3", "4 5"], "beam": 2, "n_best": 2})", "application/json");
    REQUIRE(good);
    CHECK(good->status == 200);
    const nlohmann::json j = nlohmann::json::parse(good->body);
    REQUIRE(j["translations"].size() == 2);
    const auto expect = t.translate_n_best("4 5", {.beam = 2, .n_best = 2});
    CHECK(j["translations"][1]["source_tokens"] == std::vector<std::string>{"4", "5"});
    REQUIRE(j["translations"][1]["hypotheses"].size() == 2);
    CHECK(j["translations"][1]["hypotheses"][0]["text"] == expect[0].text);
    CHECK(j["translations"][1]["hypotheses"][1]["score"].get<double>() == Approx(expect[1].score).margin(1e-6));

    // Bad requests: a status and a one-line JSON reason each, and the server goes on.
    struct Case {
        std::string path, body;
        int status;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"/translate", "{oops", 400, "serve: the request body is not valid JSON"},
        {"/translate", R"({"sentences": ["1", "2", "3", "4", "5"]})", 400, "serve: 5 sentences in one request; at most 4 are served"},
        {"/translate", R"({"sentences": ["1"], "beam": 99})", 400, "serve: \"beam\" must be an integer from 1 to 16, got 99"},
        {"/translate", "{\"sentences\": [\"" + std::string(3000, '1') + "\"]}", 413,
         "serve: the request body is too large (see --max-body)"},
        {"/nowhere", "{}", 404, "serve: no such endpoint POST /nowhere (POST /translate, GET /health)"},
    };
    for (const auto& c : cases) {
        INFO(c.path << " " << c.body.substr(0, 60));
        auto r = client.Post(c.path.c_str(), c.body, "application/json");
        REQUIRE(r);
        CHECK(r->status == c.status);
        CHECK(std::count(r->body.begin(), r->body.end(), '\n') == 1);
        CHECK(nlohmann::json::parse(r->body)["error"] == c.reason);
    }
    // Still serving after them.
    auto again = client.Post("/translate", R"({"sentences": ["1 2"]})", "application/json");
    REQUIRE(again);
    CHECK(again->status == 200);

    // A second server on the same port: one line, exit 2.
    Server second;
    start(second, {"serve", "--model", model, "--port", std::to_string(port)}, dir.path, "b");
    int status = 0;
    bool ended = false;
    for (int i = 0; i < 600 && !ended; ++i) {
        ended = ::waitpid(second.pid, &status, WNOHANG) == second.pid;
        if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(ended);  // else the destructor kills it
    second.pid = -1;
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(read_file(second.err) == fmt::format("seqgrad: error: serve: cannot listen on 127.0.0.1:{} (the port is in use, or "
                                               "the address is not this machine's)\n", port));

    CHECK(server.stop() == 0);
    CHECK_THAT(read_file(server.out), Catch::EndsWith("seqgrad serve: stopped\n"));
}
#endif
