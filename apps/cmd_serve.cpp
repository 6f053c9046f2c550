// `seqgrad serve`: a small HTTP endpoint for a model folder (cpp-httplib). POST /translate takes a JSON
// request and answers with the objects of `translate --json` (models/translate_service.h has the
// protocol); GET /health answers {"status": "ok"}. It listens on 127.0.0.1 unless --host says otherwise,
// bounds each request (body size, sentences, sentence length, beam), translates one request at a time,
// and stops cleanly on Ctrl-C or SIGTERM.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

#include "apps/checks.h"
#include "apps/commands.h"
#include "core/error.h"
#include "models/translate_service.h"
#include "models/translator.h"

namespace seqgrad::apps {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }
}  // namespace

void add_serve(CLI::App& app) {
    auto* cmd = app.add_subcommand("serve", "Serve translations over HTTP: POST /translate with JSON (README)");
    struct Opts {
        std::string model, host = "127.0.0.1";
        int port = 8080;
        std::size_t max_body = 1 << 20;
        models::ServiceLimits limits;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder written by seqgrad train")->required();
    cmd->add_option("--port", o->port, "TCP port (0 = any free port; the one chosen is printed)")->check(integer_range(0, 65535));
    cmd->add_option("--host", o->host, "Address to listen on (0.0.0.0 = every interface)");
    cmd->add_option("--max-body", o->max_body, "Largest request body in bytes (larger: 413)")->check(positive_integer());
    cmd->add_option("--max-sentences", o->limits.max_sentences, "Most sentences per request")->check(positive_integer());
    cmd->callback([o] {
        const models::Translator translator = models::Translator::load(o->model);
        httplib::Server server;
        // Two workers: one translates while the other can refuse a bad request or answer /health.
        server.new_task_queue = [] { return new httplib::ThreadPool(2); };
        server.set_payload_max_length(o->max_body);
        // SO_REUSEADDR (a restart need not wait out TIME_WAIT) but not httplib's default SO_REUSEPORT,
        // with which a second server on the same port would start and silently share the requests.
        server.set_socket_options([](socket_t sock) {
            int yes = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        });
        std::mutex model_mutex;  // one translation at a time: the model's forward is not shared between threads
        server.Post("/translate", [&](const httplib::Request& req, httplib::Response& res) {
            models::ServiceReply reply;
            try {
                std::lock_guard lock(model_mutex);
                reply = models::handle_translate_request(translator, req.body, o->limits);
            } catch (const std::exception& e) {  // memory, or a bug: this request fails, the server goes on
                reply = models::bad_request(std::string("serve: internal error: ") + e.what(), 500);
            }
            res.status = reply.status;
            res.set_content(reply.body, "application/json");
        });
        server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
            res.set_content("{\"status\":\"ok\"}\n", "application/json");
        });
        // httplib's own refusals (no such path, a body over --max-body, a malformed request) get a
        // one-line reason too.
        server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;  // a 400 of /translate keeps its own reason
            const std::string reason =
                res.status == 404   ? "serve: no such endpoint " + req.method + " " + req.path + " (POST /translate, GET /health)"
                : res.status == 413 ? "serve: the request body is too large (see --max-body)"
                                    : "serve: bad request (HTTP " + std::to_string(res.status) + ")";
            res.set_content(models::bad_request(reason, res.status).body, "application/json");
        });
        const int port = o->port == 0 ? server.bind_to_any_port(o->host) : (server.bind_to_port(o->host, o->port) ? o->port : -1);
        if (port < 0)
            fail<Error>("serve: cannot listen on {}:{} (the port is in use, or the address is not this machine's)", o->host,
                        o->port);
        std::cout << fmt::format("seqgrad serve: listening on http://{}:{} (POST /translate, GET /health; Ctrl-C stops)\n",
                                 o->host, port)
                  << std::flush;
        g_stop = false;
        std::signal(SIGINT, on_stop_signal);
        std::signal(SIGTERM, on_stop_signal);
        std::thread watcher([&server] {  // stop() is not async-signal-safe: the handler only sets a flag
            while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            server.stop();
        });
        server.listen_after_bind();  // returns when stopped
        g_stop = true;
        watcher.join();
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        std::cout << "seqgrad serve: stopped\n";
    });
}

}  // namespace seqgrad::apps
