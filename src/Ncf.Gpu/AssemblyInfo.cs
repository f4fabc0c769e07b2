using System.Runtime.CompilerServices;

// ILGPU's runtime assembly must see the internal structs passed as kernel arguments (GemmShape, AdamConstants).
[assembly: InternalsVisibleTo("ILGPURuntime")]
