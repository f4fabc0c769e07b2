using System.Runtime.InteropServices;

namespace Ncf.Cli;

/// <summary>Dispatches the sub-commands and turns every failure into a one-line message and an exit code.</summary>
internal static class Cli
{
    public const int Ok = 0;
    public const int UserError = 2;
    public const int Cancelled = 130;
    public const int InternalError = 70;

    /// <summary>An input or output that failed underneath the command (a full disk for the output, say): sysexits' EX_IOERR.</summary>
    public const int IoError = 74;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var cancel = new CancellationTokenSource();
        int cancelledCode = Cancelled, signalled = 0;
        // The first signal cancels; a second Ctrl-C or SIGTERM, while cleanup or an uncancellable read is still
        // running, is left to kill the process as it would without a handler. A repeated SIGHUP is not a user's
        // insistence (a closing terminal and systemd may send one beside another signal), so it never kills.
        ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = Cancel(Cancelled, escalates: true);
        Console.CancelKeyPress += onCancel;

        // SIGTERM (timeout, docker stop, systemd) and SIGHUP (a closed terminal) cancel as Ctrl-C does, so that
        // temporary files are removed and a model being replaced survives; the exit code is still 128 + the signal.
        using var terminate = HandleSignal(PosixSignal.SIGTERM, 143, escalates: true);
        using var hangUp = HandleSignal(PosixSignal.SIGHUP, 129, escalates: false);
        try
        {
            // `ncf help`, `ncf --help`, and `ncf COMMAND ... --help` (or -h where an option could stand) print the usage.
            if (args.Length == 0 || args[0] is "help" or "--help" or "-h"
                || (Commands.Contains(args[0]) && Arguments.AsksForHelp(args[1..], Common.Flags)))
            {
                stdout.Write(Usage);
                return Ok;
            }

            var rest = args[1..];
            return args[0] switch
            {
                "train" => TrainCommand.Run(rest, stdout, stderr, cancel.Token),
                "recommend" => RecommendCommand.Run(rest, stdout, stderr, cancel.Token),
                "evaluate" => EvaluateCommand.Run(rest, stdout, stderr, cancel.Token),
                "bench" => BenchCommand.Run(rest, stdout, stderr, cancel.Token),
                "data" => DataCommand.Run(rest, stdout, stderr, cancel.Token),
                "devices" => DevicesCommand.Run(rest, stdout),
                _ => throw new NcfException($"Unknown command '{args[0]}'. Commands: train, evaluate, recommend, bench, data, devices, help."),
            };
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            // Whatever a cancelled run threw on its way out; after SIGHUP the terminal may be gone, so the message is best effort.
            TryWriteLine(stderr, "ncf: cancelled");
            return cancelledCode;
        }
        catch (NcfIOException e)
        {
            TryWriteLine(stderr, $"ncf: error: {e.Message}");
            return IoError;
        }
        catch (NcfException e)
        {
            stderr.WriteLine($"ncf: error: {e.Message}");
            return UserError;
        }
        catch (IOException e) when (e is not FileNotFoundException and not FileLoadException)
        {
            // Files the command opens itself are reported as bad input (NcfException); what reaches here failed under
            // an open stream, typically standard output on a full disk. (A missing assembly, also an IOException, is
            // an internal error.)
            TryWriteLine(stderr, $"ncf: error: input/output failed: {e.Message}");
            return IoError;
        }
        catch (OutOfMemoryException)
        {
            stderr.WriteLine("ncf: error: out of memory; try a smaller batch, fewer factors or fewer negatives.");
            return UserError;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"ncf: internal error ({e.GetType().Name}): {e.Message}");
            return InternalError;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        PosixSignalRegistration? HandleSignal(PosixSignal signal, int exitCode, bool escalates)
        {
            try
            {
                return PosixSignalRegistration.Create(signal, context => context.Cancel = Cancel(exitCode, escalates));
            }
            catch (PlatformNotSupportedException)
            {
                return null;
            }
        }

        // True (keep running, cancelled) for the first signal; for a later one, false (the default action: die)
        // when it escalates.
        bool Cancel(int exitCode, bool escalates)
        {
            if (Interlocked.Exchange(ref signalled, 1) != 0)
            {
                return !escalates;
            }

            cancelledCode = exitCode;
            try
            {
                cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // A signal that arrived as the command returned.
            }

            return true;
        }
    }

    private static void TryWriteLine(TextWriter writer, string line)
    {
        try
        {
            writer.WriteLine(line);
        }
        catch (IOException)
        {
        }
    }

    private static readonly HashSet<string> Commands = ["train", "recommend", "evaluate", "bench", "data", "devices"];

    public const string Usage = """
        ncf — Neural Collaborative Filtering (GMF, MLP, NeuMF) in plain .NET

        ncf train [--data PATH] [--format auto|ml-100k|ml-1m|movielens-csv|ncf|csv] [--model gmf|mlp|neumf]
                  [--factors 8] [--layers 3] [--epochs 20] [--batch 256] [--lr 0.001] [--neg 4] [--seed 42]
                  [--threads N] [--optimizer auto|adam|lazy-adam|deferred-adam|sgd] [--l2 0] [--pretrain] [--validation]
                  [--device cpu|cuda[:N]|opencl[:N]|ilgpu-cpu|auto]   (N: the device's number in `ncf devices`)
                  [--full-ranking] [--ties pessimistic|optimistic] [--out FILE] [--json]
                  [--gmf FILE --mlp FILE] [--alpha 0.5] [--finetune-lr LR] [--finetune-optimizer sgd|adam|lazy-adam|deferred-adam]
                  [--test-neg 99] [--min-interactions N] [--holdout latest|none] [--header auto|yes|no]
                  [--checkpoint final|best]   (best: keep the best epoch's parameters, chosen on --validation if given)
                  [--refit]                   (with --validation: train again, validation rows included, for the chosen epochs)
                  [--average-from EPOCH]      (from that epoch on, evaluate and keep the mean of the epoch-end parameters)
                  [--patience N]              (stop after N epochs without a better HR@10: validation's if given, else test's)
                  [--state FILE [--resume]]   (keep the training state after every epoch; --resume continues from it)
                  [--step fused|layered]      (CPU: a whole step per chunk of rows, or kernel by kernel; same results)
                  [--scatter auto|atomic|sorted] (GPU: sum embedding gradients with atomics, CUDA's default, whose
                                              last bits vary from run to run, or sorted, the same bits every run)
            Trains and evaluates (HR@10, NDCG@10 on 99 sampled negatives) after every epoch. Without --data it
            uses the embedded synthetic data set (or --data synthetic:USERSxITEMSxMEAN). --header forces whether the
            first line of a generic CSV/TSV file is a header (auto: one that names a user or item column, or
            holds no number where the rating and timestamp go; named columns are placed by name). --holdout none trains on every
            interaction and evaluates nothing: the model to serve, once the settings were chosen. --pretrain trains GMF and
            MLP first (or loads them with --gmf/--mlp) and fine-tunes NeuMF with SGD (the paper) or Adam (the authors' code),
            at --finetune-lr (default: --lr).
            --optimizer auto (the default) is exact Adam's updates, taken as deferred-adam takes them when that is exact
            (no --l2, the CPU) and faster (embedding tables of 4 M parameters or more), else as adam; a note says when it
            takes deferred-adam.
            --l2 with exact Adam reaches every embedding row every step and can collapse the tables (GMF-64 at 1e-5);
            with lazy-adam it penalises the batch's rows only (1e-5 helped GMF-64, 3e-5 collapsed it).
            lazy-adam updates only the batch's embedding rows (fastest; untouched rows lose their momentum);
            deferred-adam gives exact Adam's result at about lazy-adam's cost (skipped steps applied in closed form
            when a row is next used; like lazy-adam, its L2 reaches only the batch's rows, so with --l2 it is not exact
            Adam). Both need the batch's IDs on the host: with a --device other than cpu use adam or sgd.
            --validation --refit chooses the epoch on the validation rows, then trains the same model again from the
            same start with those rows in training for exactly that many epochs (twice the training time); that model
            is reported and saved. Averaging carries over only if the chosen epoch had reached --average-from. Not with
            pre-training (refit each parent, then assemble), --checkpoint best or --epochs 0.
            --average-from N (weight averaging) holds off the overfitting of large models: each phase (GMF, MLP,
            NeuMF) keeps training from its own steps while its evaluations and saved model are the running mean of
            the parameters at the end of epochs N, N+1, ...
            --patience N (early stopping) ends each phase N epochs after its best HR@10, chosen on the validation rows
            with --validation (else on the test set, as --checkpoint best does); the epochs trained are those of the
            run without it. --refit retrains for the chosen epochs without stopping.
            --state FILE writes the training state (parameters, optimizer moments, epochs done, weight average, the
            epoch reports, the best epoch) to FILE at every epoch end; after a crash, Ctrl-C or kill, the same command
            with --resume continues from the last epoch end and ends as the run that never stopped would, bit for bit
            on the CPU; phases a run had finished (--refit's validation run, --pretrain's parents) are not trained again.
            --threads, --step, --scatter, --out, --json and --full-ranking may change on resume, and so may --epochs when one
            model is trained (not below the epochs the state holds; a run --patience stopped stays stopped); other
            settings and the data must be the same.
            The file stays when the run ends; without --resume an existing FILE is refused.
        ncf evaluate --model FILE [--data PATH] [--k 10] [--full-ranking] [--ties pessimistic|optimistic] [--json] [--seed SEED]
                     [--validation] [--fold-in]
            Scores a saved model on the test cases of its data (the same data options as training); the seed of
            the test negatives and the tie rule default to the training run's, stored in the model file. The model's
            figures do not depend on --validation; the popularity baseline beside them counts the training rows, so
            give --validation as the training run did to reproduce its baseline. --fold-in also treats each test user
            as new: their training rows are folded in as recommend does for a history, the model fixed, and their held-out
            item ranked the same way; what a user who arrives after training loses (one fit a user: minutes on ML-1M).
        ncf recommend --model FILE --user ID [--k 10] [--candidates ID,ID,...] [--include-known] [--json]
        ncf recommend --model FILE --all-users [--out FILE] [--k 10] [--candidates ...] [--include-known] [--json]
        ncf recommend --model FILE --history ID,ID,... [--k 10] [--candidates ...] [--json] [--seed 42]
            --all-users: every user's top K, a tab-separated table (user, rank, item, score) or a JSON line per
            user; --out writes it to a file that appears whole or not at all. --candidates lists item IDs with commas between them, an ID
            that holds a comma in double quotes as in CSV ("Crouching Tiger, Hidden Dragon"); each counts once.
            --history lists the items a user the model was not trained on interacted with (as --candidates lists
            IDs): their embeddings are fitted to it with the model fixed (50 Adam steps, seeded by --seed), and the
            history's items are left out. The model file is not changed.
        ncf bench [--data PATH] [--model neumf] [--factors 8] [--batch 256] [--threads N] [--epochs 1]
                  [--optimizer auto|adam|lazy-adam|deferred-adam|sgd] [--step fused|layered] [--score-users 1000|all] [--device ...]
                  [--json] [--layers 3] [--lr 0.001] [--neg 4] [--seed 42] [--l2 0] [--scatter ...]
                  [--format ...] [--header ...] [--test-neg 99] [--min-interactions N] [--holdout latest] [--ties ...]
            Trains on the data for --epochs and prints training samples/s, then scoring pairs/s over --score-users
            users' whole catalogue; the options after --json mean what they mean to train.
        ncf bench --ceilings [--json]          the machine's FP32 peak and memory bandwidth
        ncf data download NAME --to DIR [--overwrite] [--sha256 HEX] [--base-url URL]
            NAME: ml-100k, ml-1m, ml-latest-small, ml-20m, from GroupLens (or a mirror at URL), checked against the
            SHA-256 stored in the project (or HEX), unpacked into DIR/NAME; --overwrite replaces an existing copy once
            the new one is verified. A failed or cancelled download leaves nothing behind.
        ncf devices                            lists compute devices

        Exit codes: 0 success, 2 bad input, 74 input/output failed (a full disk), 130 cancelled (Ctrl-C; 143 on SIGTERM,
        129 on SIGHUP), 70 internal error.

        """;
}
