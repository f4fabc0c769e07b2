using Ncf.Cli;

// The `ncf` command. Errors caused by input are one line on stderr and exit code 2; a bug is one line and 70.
// No path prints a stack trace.
return Cli.Run(args, Console.Out, Console.Error);
